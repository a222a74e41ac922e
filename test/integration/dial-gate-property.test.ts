import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { zonesOfNumber } from '../../src/campaigns/callee-zones.js'
import { claimCall, finishCall } from '../../src/calls/recorder.js'
import type { ClaimResult } from '../../src/calls/gate.js'
import { callIdFor, type DialCommand } from '../../src/contracts/index.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { flow } from './worker-fixtures.js'

/**
 * Random interleavings of pause / resume, clock moves across window edges, blacklist additions,
 * dispatches, redeliveries and call ends, against the real gate on real PostgreSQL. The oracle is
 * independent of window.ts (Intl's hour in each zone): never a claim outside the rules, never two
 * claims of one attempt, every claim attempt answered exactly once, call rows = claims.
 */

let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('gate_prop')
})
afterAll(async () => {
  await tdb.drop()
})

const START_HOUR = 9
const END_HOUR = 17
const MAX_ATTEMPTS = 3
/** New York, Honolulu, Anchorage+Adak (two zones), and one with an explicit zone */
const CONTACTS = [
  { id: 'ny', prefix: '+1212555', timezone: null },
  { id: 'hnl', prefix: '+1808555', timezone: null },
  { id: 'anc', prefix: '+1907555', timezone: null },
  { id: 'tlv', prefix: '+1646555', timezone: 'Asia/Jerusalem' },
] as const

/** The blacklist is global: every run gets numbers of its own. */
const phoneOf = (contact: number, runNo: number) => `${CONTACTS[contact]!.prefix}${String(1000 + runNo)}`

type Op =
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'clock'; hour: number; edge: 'start' | 'end' }
  | { op: 'blacklist'; contact: number }
  | { op: 'dispatch'; contact: number }
  | { op: 'claim'; task: number }
  | { op: 'finish'; contact: number }

const contactArb = fc.integer({ min: 0, max: CONTACTS.length - 1 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ op: 'pause' }), weight: 1 },
  { arbitrary: fc.constant<Op>({ op: 'resume' }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('clock' as const),
      // the UTC hours where some zone's window opens or closes (13 New York, 17 Anchorage, 18 Adak,
      // 19 Honolulu, 6 Jerusalem …) come up more often than the rest
      hour: fc.oneof(
        fc.constantFrom(6, 13, 14, 17, 18, 19, 20, 21, 2, 3, 4),
        fc.integer({ min: 0, max: 23 }),
      ),
      edge: fc.constantFrom('start' as const, 'end' as const),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('blacklist' as const), contact: contactArb }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('dispatch' as const), contact: contactArb }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('claim' as const), task: fc.nat() }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('finish' as const), contact: contactArb }), weight: 3 },
)

/** The oracle: local hour in a zone by Intl, not by the code under test. */
function localHour(at: Date, tz: string): number {
  return Number(
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', hourCycle: 'h23' }).format(at),
  )
}

let run = 0

async function setup(campaignId: string) {
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, $1, 'active', $2, 'America/New_York')`,
    [
      campaignId,
      JSON.stringify({
        audioFileUrl: 'https://example.test/a.mp3',
        ivrFlow: flow,
        callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: START_HOUR, endHour: END_HOUR }],
        maxConcurrentCalls: 10,
        maxAttemptsPerContact: MAX_ATTEMPTS,
        retryDelayMinutes: 0,
      }),
    ],
  )
  for (const [i, c] of CONTACTS.entries())
    await tdb.pool.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, timezone, number_timezones)
       VALUES ($1, $2, $3, 'pending', $4, $5)`,
      [campaignId, `${c.id}-${campaignId}`, phoneOf(i, run), c.timezone, zonesOfNumber(phoneOf(i, run))],
    )
}

function command(campaignId: string, contact: number, attempt: number): DialCommand {
  const c = CONTACTS[contact]!
  const contactId = `${c.id}-${campaignId}`
  return {
    callId: callIdFor({ campaignId, contactId, attempts: attempt }),
    campaignId,
    contactId,
    phoneNumber: phoneOf(contact, run),
    audioFileUrl: 'https://example.test/a.mp3',
    ivrFlow: flow as DialCommand['ivrFlow'],
    metadata: {},
    attempt,
  }
}

async function contactRow(campaignId: string, contact: number) {
  const { rows } = await tdb.pool.query<{ status: string; attempts: number }>(
    'SELECT status, attempts FROM contacts WHERE campaign_id = $1 AND id = $2',
    [campaignId, `${CONTACTS[contact]!.id}-${campaignId}`],
  )
  return rows[0]!
}

async function runScenario(ops: Op[]): Promise<void> {
  const campaignId = `prop-${++run}`
  await setup(campaignId)
  let active = true
  let clock = new Date('2026-06-15T14:00:00Z')
  const blacklisted = new Set<string>()
  const tasks: { contact: number; attempt: number }[] = []
  const claimed = new Set<string>()
  let answers = 0
  let claims = 0
  for (const o of ops) {
    switch (o.op) {
      case 'pause':
      case 'resume':
        active = o.op === 'resume'
        await tdb.pool.query('UPDATE campaigns SET status = $2 WHERE id = $1', [
          campaignId,
          active ? 'active' : 'paused',
        ])
        break
      case 'clock':
        // one second either side of an hour edge, 2026-06-15 UTC
        clock = new Date(
          Date.UTC(2026, 5, 15, o.hour, o.edge === 'start' ? 0 : 59, o.edge === 'start' ? 0 : 59),
        )
        break
      case 'blacklist':
        blacklisted.add(phoneOf(o.contact, run))
        await tdb.pool.query(
          `INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'prop', 'test') ON CONFLICT DO NOTHING`,
          [phoneOf(o.contact, run)],
        )
        break
      case 'dispatch': {
        const row = await contactRow(campaignId, o.contact)
        if (row.status !== 'pending') break
        await tdb.pool.query(`UPDATE contacts SET status = 'queued' WHERE campaign_id = $1 AND id = $2`, [
          campaignId,
          `${CONTACTS[o.contact]!.id}-${campaignId}`,
        ])
        tasks.push({ contact: o.contact, attempt: row.attempts })
        break
      }
      case 'claim': {
        if (tasks.length === 0) break
        const t = tasks[o.task % tasks.length]! // any earlier task: redeliveries included
        const before = await contactRow(campaignId, t.contact)
        const now = clock
        const result: ClaimResult = await claimCall(
          tdb.pool,
          command(campaignId, t.contact, t.attempt),
          'w-prop',
          {
            now: () => now,
          },
        )
        claims++
        answers++
        if (result.kind !== 'claimed') break
        const c = CONTACTS[t.contact]!
        const zones = c.timezone ? [c.timezone] : zonesOfNumber(phoneOf(t.contact, run))
        const key = `${t.contact}:${t.attempt}`
        expect(claimed.has(key), `attempt ${key} claimed twice`).toBe(false)
        claimed.add(key)
        expect(active, 'claimed while paused').toBe(true)
        expect(blacklisted.has(phoneOf(t.contact, run)), 'claimed a blacklisted number').toBe(false)
        for (const tz of zones) {
          const h = localHour(now, tz)
          expect(h >= START_HOUR && h < END_HOUR, `claimed at ${h}:xx in ${tz}`).toBe(true)
        }
        expect(before.attempts).toBe(t.attempt)
        expect(t.attempt).toBeLessThan(MAX_ATTEMPTS)
        expect(['queued', 'pending']).toContain(before.status)
        break
      }
      case 'finish': {
        const row = await contactRow(campaignId, o.contact)
        if (row.status !== 'dialing') break
        const cmd = command(campaignId, o.contact, row.attempts - 1)
        await finishCall(tdb.pool, {
          callId: cmd.callId,
          campaignId,
          contactId: cmd.contactId,
          attempt: row.attempts - 1,
          status: 'no-answer',
        })
        break
      }
    }
  }
  expect(answers).toBe(claims)
  const { rows } = await tdb.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM call_attempts WHERE campaign_id = $1',
    [campaignId],
  )
  expect(Number(rows[0]!.n)).toBe(claimed.size)
}

describe('dial gate, random interleavings (fast-check)', () => {
  it('never claims outside the rules; each attempt claimed at most once; call rows = claims', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 40 }), (ops) => runScenario(ops)),
      { numRuns: 60, seed: 20261130 },
    )
  })
})
