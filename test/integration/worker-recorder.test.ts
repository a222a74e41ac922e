import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { beginCall, failOpenCalls, finishCall } from '../../src/calls/recorder.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { contactRow, dialCommand, insertCampaign, insertContact } from './worker-fixtures.js'

let tdb: TestDb
let seq = 0

beforeAll(async () => {
  tdb = await createTestDb('worker_rec')
  await insertCampaign(tdb.pool, 'camp-1', { maxAttemptsPerContact: 3 })
})
afterAll(async () => {
  await tdb.drop()
})

async function contact(state: { status?: string; attempts?: number } = {}) {
  seq++
  const c = { contactId: `r-${seq}`, phoneNumber: `+9725022200${String(seq).padStart(2, '0')}` }
  await insertContact(tdb.pool, 'camp-1', c.contactId, c.phoneNumber, state)
  return c
}

const finishOf = (cmd: ReturnType<typeof dialCommand>, status: 'answered' | 'busy' | 'failed') => ({
  callId: cmd.callId,
  campaignId: cmd.campaignId,
  contactId: cmd.contactId,
  attempt: cmd.attempt ?? 0,
  status,
})

describe('call recorder', () => {
  it('beginCall inserts the attempt and moves the contact queued → dialing with attempts = attempt + 1', async () => {
    const c = await contact({ attempts: 1 })
    const cmd = dialCommand({ ...c, attempt: 1 })
    expect(await beginCall(tdb.pool, cmd, 'w1')).toEqual({ callId: cmd.callId, attempt: 1, duplicate: false })
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({
      status: 'dialing',
      attempts: 2,
    })
    expect(await beginCall(tdb.pool, cmd, 'w2')).toEqual({ callId: cmd.callId, attempt: 1, duplicate: true })
    const { rows } = await tdb.pool.query('SELECT worker_id FROM call_attempts WHERE contact_id = $1', [
      c.contactId,
    ])
    expect(rows).toEqual([{ worker_id: 'w1' }])
  })

  it('beginCall refuses a blacklisted number: no call row, the contact fails as blacklisted', async () => {
    const c = await contact()
    await tdb.pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'pressed 9', 'ivr')`,
      [c.phoneNumber],
    )
    const cmd = dialCommand(c)
    expect(await beginCall(tdb.pool, cmd, 'w1')).toEqual({
      callId: cmd.callId,
      attempt: 0,
      duplicate: false,
      blacklisted: true,
    })
    const { rows } = await tdb.pool.query('SELECT 1 FROM call_attempts WHERE contact_id = $1', [c.contactId])
    expect(rows).toEqual([])
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({ status: 'failed' })
  })

  it('concurrent begins of the same attempt: exactly one wins', async () => {
    const c = await contact()
    const cmd = dialCommand(c)
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => beginCall(tdb.pool, cmd, `w${i}`)))
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
    expect(results.every((r) => r.callId === cmd.callId)).toBe(true)
  })

  // Changed by issue #11: the dial gate dials only a contact that exists (push now writes one).
  it('a task for a contact without a row is refused by the gate and places no call', async () => {
    const cmd = dialCommand({ contactId: 'no-such-contact' })
    expect(await beginCall(tdb.pool, cmd, 'w1')).toMatchObject({
      duplicate: false,
      refused: { reason: 'contact_unknown' },
    })
    expect(await finishCall(tdb.pool, finishOf(cmd, 'answered'))).toEqual({ recorded: false })
  })

  it('finishCall: answered → done; busy → pending; busy at maxAttempts → failed; a second finish changes nothing', async () => {
    const a = await contact()
    const cmdA = dialCommand(a)
    await beginCall(tdb.pool, cmdA, 'w1')
    expect(
      await finishCall(tdb.pool, { ...finishOf(cmdA, 'answered'), digit: '1', durationMs: 1234.4 }),
    ).toEqual({
      recorded: true,
      contactStatus: 'done',
    })
    expect(await finishCall(tdb.pool, finishOf(cmdA, 'failed'))).toEqual({ recorded: false })
    const { rows } = await tdb.pool.query(
      'SELECT status, digit, duration_ms FROM call_attempts WHERE call_id = $1',
      [cmdA.callId],
    )
    expect(rows).toEqual([{ status: 'answered', digit: '1', duration_ms: 1234 }])

    const b = await contact()
    const cmdB = dialCommand(b)
    await beginCall(tdb.pool, cmdB, 'w1')
    expect(await finishCall(tdb.pool, { ...finishOf(cmdB, 'busy'), hangupCause: 17 })).toEqual({
      recorded: true,
      contactStatus: 'pending',
    })
    // default retry delay (campaign config has none): 60 minutes
    expect(await contactRow(tdb.pool, 'camp-1', b.contactId)).toMatchObject({
      status: 'pending',
      last_outcome: 'busy',
      retry_in_minutes: 60,
    })

    const last = await contact({ attempts: 2 })
    const cmdLast = dialCommand({ ...last, attempt: 2 })
    await beginCall(tdb.pool, cmdLast, 'w1')
    expect((await finishCall(tdb.pool, finishOf(cmdLast, 'busy'))).contactStatus).toBe('failed')
  })

  it('a late finish of an older attempt does not move the contact', async () => {
    const c = await contact()
    const old = dialCommand(c)
    await beginCall(tdb.pool, old, 'w1')
    // The contact has moved on to attempt 1 meanwhile (e.g. recovery released and re-queued it).
    await tdb.pool.query(`UPDATE contacts SET status = 'queued' WHERE id = $1`, [c.contactId])
    await beginCall(tdb.pool, dialCommand({ ...c, attempt: 1 }), 'w1')
    expect(await finishCall(tdb.pool, finishOf(old, 'answered'))).toEqual({ recorded: true })
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({
      status: 'dialing',
      attempts: 2,
    })
  })

  it("failOpenCalls closes only this worker's open calls and moves their contacts per the table", async () => {
    const retry = await contact()
    const exhausted = await contact({ attempts: 2 })
    const otherWorker = await contact()
    const finished = await contact()
    const cmdRetry = dialCommand(retry)
    const cmdExhausted = dialCommand({ ...exhausted, attempt: 2 })
    const cmdOther = dialCommand(otherWorker)
    const cmdFinished = dialCommand(finished)
    await beginCall(tdb.pool, cmdRetry, 'w-crashed')
    await beginCall(tdb.pool, cmdExhausted, 'w-crashed')
    await beginCall(tdb.pool, cmdOther, 'w-alive')
    await beginCall(tdb.pool, cmdFinished, 'w-crashed')
    await finishCall(tdb.pool, finishOf(cmdFinished, 'answered'))

    const closed = await failOpenCalls(tdb.pool, 'w-crashed', 'worker restarted')
    expect(closed.sort()).toEqual([cmdRetry.callId, cmdExhausted.callId].sort())
    const { rows } = await tdb.pool.query<{ call_id: string; status: string; error: string | null }>(
      'SELECT call_id, status, error FROM call_attempts WHERE call_id = ANY($1) ORDER BY call_id',
      [[cmdRetry.callId, cmdExhausted.callId, cmdOther.callId, cmdFinished.callId]],
    )
    expect(Object.fromEntries(rows.map((r) => [r.call_id, [r.status, r.error]]))).toEqual({
      [cmdRetry.callId]: ['failed', 'worker restarted'],
      [cmdExhausted.callId]: ['failed', 'worker restarted'],
      [cmdOther.callId]: ['dialing', null],
      [cmdFinished.callId]: ['answered', null],
    })
    expect(await contactRow(tdb.pool, 'camp-1', retry.contactId)).toMatchObject({
      status: 'pending',
      last_outcome: 'failed',
      retry_in_minutes: 60,
    })
    expect(await contactRow(tdb.pool, 'camp-1', exhausted.contactId)).toMatchObject({
      status: 'failed',
      attempts: 3,
    })
    expect((await contactRow(tdb.pool, 'camp-1', otherWorker.contactId))?.status).toBe('dialing')
    expect(await failOpenCalls(tdb.pool, 'w-crashed', 'again')).toEqual([])
  })
})

describe('finishCall group commit (finish_calls, migration 0022)', () => {
  /** The pool, counting the statements finishCall sends through it (a handle of its own). */
  function countingDb(fail?: (statement: number) => Error | undefined) {
    const db = {
      statements: 0,
      query: (...args: Parameters<typeof tdb.pool.query>) => {
        db.statements++
        const error = fail?.(db.statements)
        return error ? Promise.reject(error) : tdb.pool.query(...args)
      },
    }
    return db
  }
  const asDb = (db: ReturnType<typeof countingDb>) => db as unknown as Parameters<typeof finishCall>[0]

  async function dialing(n: number) {
    const cmds = []
    for (let i = 0; i < n; i++) {
      const cmd = dialCommand(await contact())
      await beginCall(tdb.pool, cmd, 'w1')
      cmds.push(cmd)
    }
    return cmds
  }

  it('finishes arriving while one is written go together in the next statement, each with its own answer', async () => {
    const cmds = await dialing(30)
    const db = countingDb()
    const results = await Promise.all(
      cmds.map((cmd, i) => finishCall(asDb(db), finishOf(cmd, i % 2 ? 'busy' : 'answered'))),
    )
    // the first alone at once, the 29 that queued behind it in one more
    expect(db.statements).toBe(2)
    results.forEach((r, i) =>
      expect(r).toEqual({ recorded: true, contactStatus: i % 2 ? 'pending' : 'done' }),
    )
    for (const [i, cmd] of cmds.entries()) {
      expect(await contactRow(tdb.pool, 'camp-1', cmd.contactId)).toMatchObject({
        status: i % 2 ? 'pending' : 'done',
      })
    }
    const { rows } = await tdb.pool.query<{ status: string }>(
      'SELECT status FROM call_attempts WHERE call_id = ANY($1) ORDER BY call_id',
      [cmds.map((c) => c.callId)],
    )
    expect(rows.filter((r) => r.status === 'dialing')).toEqual([])
  })

  it('one finish the server refuses fails only its own caller: the refused statement is retried call by call', async () => {
    const cmds = await dialing(5)
    const db = countingDb()
    const settled = await Promise.allSettled(
      cmds.map((cmd, i) =>
        finishCall(asDb(db), {
          ...finishOf(cmd, 'answered'),
          // not a call status: call_attempts_status_check refuses it
          ...(i === 3 ? { status: 'exploded' as 'answered' } : {}),
        }),
      ),
    )
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ])
    expect(String((settled[3] as PromiseRejectedResult).reason)).toMatch(/call_attempts_status_check/)
    // the first alone, the refused four, then each of the four alone
    expect(db.statements).toBe(6)
    for (const [i, cmd] of cmds.entries()) {
      expect(await contactRow(tdb.pool, 'camp-1', cmd.contactId)).toMatchObject({
        status: i === 3 ? 'dialing' : 'done',
      })
    }
  })

  it('a statement lost with its connection rejects each of its finishes, retried by none', async () => {
    const cmds = await dialing(4)
    const lost = new Error('Connection terminated unexpectedly')
    const db = countingDb((n) => (n === 2 ? lost : undefined))
    const settled = await Promise.allSettled(
      cmds.map((cmd) => finishCall(asDb(db), finishOf(cmd, 'answered'))),
    )
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected'])
    expect(settled.slice(1).map((s) => (s as PromiseRejectedResult).reason)).toEqual([lost, lost, lost])
    expect(db.statements).toBe(2)
    // the caller's retry (run-call.ts recordOutcome) records them
    expect(
      await Promise.all(cmds.slice(1).map((cmd) => finishCall(asDb(db), finishOf(cmd, 'answered')))),
    ).toEqual([
      { recorded: true, contactStatus: 'done' },
      { recorded: true, contactStatus: 'done' },
      { recorded: true, contactStatus: 'done' },
    ])
  })

  it('a statement the server cancelled (timeout, shutdown) rejects each of its finishes, retried by none', async () => {
    const cmds = await dialing(3)
    const cancelled = Object.assign(
      new pg.DatabaseError('canceling statement due to statement timeout', 0, 'error'),
      { code: '57014' },
    )
    const db = countingDb((n) => (n === 2 ? cancelled : undefined))
    const settled = await Promise.allSettled(cmds.map((cmd) => finishCall(asDb(db), finishOf(cmd, 'busy'))))
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected'])
    expect(db.statements).toBe(2)
  })

  it('an unpaired surrogate in a text field is written as U+FFFD, as the single statement did, not refused as JSON', async () => {
    const [first, cmd] = await dialing(2)
    const db = countingDb()
    const results = await Promise.all([
      finishCall(asDb(db), finishOf(first!, 'busy')),
      finishCall(asDb(db), { ...finishOf(cmd!, 'failed'), error: 'driver ari: cut \ud83d', digit: '\udc00' }),
    ])
    expect(db.statements).toBe(2)
    expect(results[1]).toEqual({ recorded: true, contactStatus: 'pending' })
    const { rows } = await tdb.pool.query('SELECT error, digit FROM call_attempts WHERE call_id = $1', [
      cmd!.callId,
    ])
    expect(rows).toEqual([{ error: 'driver ari: cut \ufffd', digit: '\ufffd' }])
  })

  it('the same call finished twice in one statement is recorded once, the first in order', async () => {
    const [cmd, other] = await dialing(2)
    const db = countingDb()
    const results = await Promise.all([
      finishCall(asDb(db), finishOf(other!, 'busy')),
      finishCall(asDb(db), finishOf(cmd!, 'answered')),
      finishCall(asDb(db), finishOf(cmd!, 'busy')),
    ])
    expect(db.statements).toBe(2)
    expect(results).toEqual([
      { recorded: true, contactStatus: 'pending' },
      { recorded: true, contactStatus: 'done' },
      { recorded: false },
    ])
  })
})
