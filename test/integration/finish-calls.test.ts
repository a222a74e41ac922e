import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  beginCall,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY_MINUTES,
  finishCall,
  type FinishCall,
} from '../../src/calls/recorder.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { dialCommand, insertCampaign, insertContact } from './worker-fixtures.js'

let tdb: TestDb
let seq = 0
beforeAll(async () => {
  tdb = await createTestDb('finish_calls')
  await insertCampaign(tdb.pool, 'camp-1', { maxAttemptsPerContact: 3 })
})
afterAll(async () => {
  await tdb.drop()
})

async function dialingCmd() {
  seq++
  const c = { contactId: `v-${seq}`, phoneNumber: `+9725033300${String(seq).padStart(2, '0')}` }
  await insertContact(tdb.pool, 'camp-1', c.contactId, c.phoneNumber, {})
  const cmd = dialCommand(c)
  await beginCall(tdb.pool, cmd, 'w1')
  return cmd
}

/** The single statement finishCall sent before the group commit (one finish_call per call). */
async function oldFinish(f: FinishCall) {
  const { rows } = await tdb.pool.query<{ recorded: boolean; contact_status: string | null }>(
    'SELECT recorded, contact_status FROM finish_call($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
    [
      f.callId,
      f.status,
      f.hangupCause ?? null,
      f.digit ?? null,
      JSON.stringify(f.actions ?? []),
      f.error ?? null,
      f.answeredAt ?? null,
      f.durationMs === undefined ? null : Math.round(f.durationMs),
      f.reason ?? null,
      f.endedBy ?? null,
      DEFAULT_MAX_ATTEMPTS,
      DEFAULT_RETRY_DELAY_MINUTES,
    ],
  )
  return {
    recorded: rows[0]?.recorded === true,
    ...(rows[0]?.contact_status ? { contactStatus: rows[0].contact_status } : {}),
  }
}

async function row(callId: string) {
  const { rows } = await tdb.pool.query(
    `SELECT status, hangup_cause, digit, actions, actions::text AS actions_text, error, answered_at,
            duration_ms, reason, ended_by FROM call_attempts WHERE call_id = $1`,
    [callId],
  )
  return rows[0]
}

type Variant = Omit<FinishCall, 'callId' | 'campaignId' | 'contactId' | 'attempt'>
const variants: Record<string, Variant> = {
  full: {
    status: 'answered',
    hangupCause: 16,
    digit: '1',
    actions: [
      { type: 'play', ok: true },
      { type: 'sms', ok: false, error: 'x"\\\n\u00e9\u{1F600}' },
    ] as never,
    error: 'שגיאה \u{1F4DE} "quoted" \\ back\nslash',
    answeredAt: new Date('2026-03-29T00:59:59.123Z'),
    durationMs: 1234.5,
    reason: 'media',
    endedBy: 'voicemail-left',
  },
  bare: { status: 'busy' },
  emptyStrings: { status: 'failed', digit: '', error: '', endedBy: '' },
  huge: { status: 'failed', error: 'e'.repeat(2_000_000) },
  bigNumbersInActions: {
    status: 'answered',
    actions: [{ type: 'x', ok: true, n: 1e300, m: 2 ** 53 + 2, f: 0.1 }] as never,
  },
  loneSurrogate: { status: 'failed', error: 'driver ari: bad \ud83d' },
  nulInError: { status: 'failed', error: 'a\u0000b' },
}

/**
 * Review of 8743b67: the batched path (finish_calls, its arguments as one JSON document) writes
 * what the single statement before it (finish_call with typed parameters) wrote, field by field.
 * Known difference, kept: a NaN durationMs or an Invalid Date answeredAt is JSON null, so the
 * batch writes NULL where the single statement was refused (and the call never recorded).
 */
describe('finish_calls (batched) vs finish_call (old single statement)', () => {
  for (const [name, v] of Object.entries(variants)) {
    it(`${name}: same outcome and same row, alone and inside a batch`, async () => {
      const [a, b, filler] = [await dialingCmd(), await dialingCmd(), await dialingCmd()]
      const f = (cmd: typeof a): FinishCall => ({
        callId: cmd.callId,
        campaignId: cmd.campaignId,
        contactId: cmd.contactId,
        attempt: 0,
        ...v,
      })
      const old = await oldFinish(f(a)).then(
        (r) => ({ ok: true, r }),
        (e: Error) => ({ ok: false, r: e.message }),
      )
      // b goes in a batch: the filler first (written at once), b queued behind it with one more
      const fillerCmd = await dialingCmd()
      const [, , batched] = await Promise.allSettled([
        finishCall(tdb.pool, f(filler)),
        finishCall(tdb.pool, { ...f(fillerCmd), status: 'busy' } as FinishCall),
        finishCall(tdb.pool, f(b)),
      ])
      const neu =
        batched.status === 'fulfilled'
          ? { ok: true, r: batched.value }
          : { ok: false, r: String((batched.reason as Error).message) }
      const [ra, rb] = [await row(a.callId), await row(b.callId)]
      expect({ ok: neu.ok, r: neu.ok ? neu.r : 'error' }).toEqual({ ok: old.ok, r: old.ok ? old.r : 'error' })
      expect(rb).toEqual(ra)
    })
  }
})

describe('two handles finishing the same calls in opposite orders (two workers, a redelivery)', () => {
  it('each call is recorded exactly once; a deadlock victim is retried call by call, no caller rejected', async () => {
    const { createPool } = await import('../../src/db/pool.js')
    const other = createPool({ schema: tdb.schema })
    try {
      for (let round = 0; round < 5; round++) {
        const cmds: Awaited<ReturnType<typeof dialingCmd>>[] = []
        for (let i = 0; i < 40; i++) cmds.push(await dialingCmd())
        const f = (cmd: (typeof cmds)[number], status: 'answered' | 'busy'): FinishCall => ({
          callId: cmd.callId,
          campaignId: cmd.campaignId,
          contactId: cmd.contactId,
          attempt: 0,
          status,
        })
        const reversed = [...cmds].reverse()
        const settled = await Promise.allSettled([
          ...cmds.map((c) => finishCall(tdb.pool, f(c, 'answered'))),
          ...reversed.map((c) => finishCall(other, f(c, 'busy'))),
        ])
        expect(settled.filter((s) => s.status === 'rejected')).toEqual([])
        const values = settled.map((s) => (s as PromiseFulfilledResult<{ recorded: boolean }>).value)
        const byCall = new Map<string, number>()
        values.forEach((v, i) => {
          const cmd = i < 40 ? cmds[i]! : reversed[i - 40]!
          if (v.recorded) byCall.set(cmd.callId, (byCall.get(cmd.callId) ?? 0) + 1)
        })
        expect([...byCall.values()].every((n) => n === 1)).toBe(true)
        expect(byCall.size).toBe(40)
      }
    } finally {
      await other.end()
    }
  })
})
