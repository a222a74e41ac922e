import { E164_FORMAT } from '../../src/contracts/index.js'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { TelephonyDriver } from '../../src/telephony/driver.js'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { SimDriver, type SimOptionsInput } from '../../worker/drivers/sim.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { contactRow, dialCommand, GatedDriver, insertCampaign, insertContact } from './worker-fixtures.js'

const TOKEN = 'test-token-0123456789abcdef'
const quiet = createLogger('worker', { level: 'SILENT' })
let tdb: TestDb
let worker: Worker | undefined
let base = ''
let contactSeq = 0

beforeAll(async () => {
  tdb = await createTestDb('worker_api')
  await insertCampaign(tdb.pool, 'camp-1', { maxAttemptsPerContact: 2, retryDelayMinutes: 15 })
})
afterAll(async () => {
  await tdb.drop()
})
afterEach(async () => {
  await worker?.close()
  worker = undefined
})

const instant: SimOptionsInput = { speed: 0, answerRate: 1, busyRate: 0 }

async function start(driver: TelephonyDriver, maxActiveCalls = 100): Promise<Worker> {
  worker = createWorker({
    db: tdb.pool,
    driver,
    token: TOKEN,
    workerId: 'w-test',
    caps: { maxActiveCalls, retryAfterSeconds: 2, unavailableRetryAfterSeconds: 7 },
    logger: quiet,
  })
  const port = await worker.listen(0, '127.0.0.1')
  base = `http://127.0.0.1:${port}`
  return worker
}

/** A fresh queued contact with its own phone number, so tests do not share rows. */
async function newContact(): Promise<{ contactId: string; phoneNumber: string }> {
  contactSeq++
  const contactId = `c-${contactSeq}`
  const phoneNumber = `+9725012340${String(contactSeq).padStart(2, '0')}`
  await insertContact(tdb.pool, 'camp-1', contactId, phoneNumber)
  return { contactId, phoneNumber }
}

async function post(body: unknown, auth: string | null = `Bearer ${TOKEN}`) {
  const res = await fetch(`${base}/dial`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> }
}

async function callRows(contactId: string) {
  const { rows } = await tdb.pool.query(
    `SELECT call_id, status, digit, actions, attempt, worker_id, hangup_cause, duration_ms
     FROM call_attempts WHERE contact_id = $1 ORDER BY attempt`,
    [contactId],
  )
  return rows
}

describe('worker HTTP API', () => {
  it('401 without a token and with a wrong one; nothing is recorded or dialed', async () => {
    const driver = new GatedDriver(new SimDriver(instant))
    const w = await start(driver)
    const c = await newContact()
    const none = await post(dialCommand(c), null)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    expect(none.body.error).toBe('unauthorized')
    const wrong = await post(dialCommand(c), `Bearer ${TOKEN}x`)
    expect(wrong.status).toBe(401)
    const notBearer = await post(dialCommand(c), `Basic ${TOKEN}`)
    expect(notBearer.status).toBe(401)
    expect(await callRows(c.contactId)).toEqual([])
    expect(driver.started).toEqual([])
    expect((await contactRow(tdb.pool, 'camp-1', c.contactId))?.status).toBe('queued')
    expect(w.metrics().rejected.unauthorized).toBe(3)
  })

  it('400 names the invalid field', async () => {
    await start(new SimDriver(instant))
    const c = await newContact()
    const badPhone = await post({ ...dialCommand(c), phoneNumber: '0501234567' })
    expect(badPhone.status).toBe(400)
    expect(badPhone.body).toEqual({
      error: 'invalid_dial_command',
      message: `phoneNumber: must be a valid E.164 phone number: ${E164_FORMAT}`,
    })
    const { ivrFlow: _drop, ...noFlow } = dialCommand(c)
    const missing = await post(noFlow)
    expect(missing.status).toBe(400)
    expect(missing.body.message).toMatch(/^ivrFlow: /)
    const notJson = await post('{not json')
    expect(notJson.status).toBe(400)
    expect(notJson.body.error).toBe('invalid_json')
    expect(await callRows(c.contactId)).toEqual([])
  })

  it('202, then the donation outcome lands in call_attempts and donations; contact done', async () => {
    const w = await start(new SimDriver({ ...instant, dtmf: { '1': 1 } }))
    const c = await newContact()
    const res = await post(dialCommand(c))
    expect(res.status).toBe(202)
    expect(res.body).toEqual({ callId: `call-camp-1-${c.contactId}-0`, status: 'accepted' })
    await w.idle()
    const rows = await callRows(c.contactId)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      call_id: `call-camp-1-${c.contactId}-0`,
      status: 'answered',
      digit: '1',
      actions: [{ type: 'trigger_donation', ok: true, digit: '1' }],
      attempt: 0,
      worker_id: 'w-test',
    })
    const donations = await tdb.pool.query(
      'SELECT call_id, contact_id, parameters FROM donations WHERE contact_id = $1',
      [c.contactId],
    )
    expect(donations.rows).toEqual([
      {
        call_id: `call-camp-1-${c.contactId}-0`,
        contact_id: c.contactId,
        parameters: { amount: 18, digit: '1' },
      },
    ])
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({
      status: 'done',
      attempts: 1,
      last_outcome: 'answered',
    })
    const m = w.metrics()
    expect(m).toMatchObject({ attempted: 1, answered: 1, finished: 1, answerRate: 1, activeCalls: 0 })
  })

  it('pressing 9 blacklists the number at once', async () => {
    const w = await start(new SimDriver({ ...instant, dtmf: { '9': 1 } }))
    const c = await newContact()
    expect((await post(dialCommand(c))).status).toBe(202)
    await w.idle()
    const bl = await tdb.pool.query(
      'SELECT phone_number, source, campaign_id FROM blacklist WHERE phone_number = $1',
      [c.phoneNumber],
    )
    expect(bl.rows).toEqual([{ phone_number: c.phoneNumber, source: 'ivr', campaign_id: 'camp-1' }])
    expect((await callRows(c.contactId))[0]).toMatchObject({ status: 'answered', digit: '9' })
  })

  it('a number already on the blacklist: 409, nothing dialed or recorded, contact failed', async () => {
    const driver = new GatedDriver(new SimDriver(instant))
    const w = await start(driver)
    const c = await newContact()
    await tdb.pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'pressed 9', 'ivr')`,
      [c.phoneNumber],
    )
    const res = await post(dialCommand(c))
    expect(res.status).toBe(409)
    expect(res.body).toMatchObject({ error: 'blacklisted' })
    expect(await callRows(c.contactId)).toEqual([])
    expect(driver.started).toEqual([])
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({ status: 'failed' })
    expect(w.metrics().rejected.blacklisted).toBe(1)
  })

  it('no-answer moves the contact back to pending with the retry delay, then failed at maxAttempts', async () => {
    const w = await start(new SimDriver({ speed: 0, answerRate: 0, busyRate: 0 }))
    const c = await newContact()
    expect((await post(dialCommand(c))).status).toBe(202)
    await w.idle()
    expect((await callRows(c.contactId))[0]).toMatchObject({ status: 'no-answer', hangup_cause: 19 })
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_outcome: 'no-answer',
      retry_in_minutes: 15,
    })
    // The dispatcher would queue it again; attempt 1 is the campaign's last (maxAttemptsPerContact 2).
    await tdb.pool.query(`UPDATE contacts SET status = 'queued' WHERE id = $1`, [c.contactId])
    expect((await post(dialCommand({ ...c, attempt: 1 }))).status).toBe(202)
    await w.idle()
    expect(await contactRow(tdb.pool, 'camp-1', c.contactId)).toMatchObject({ status: 'failed', attempts: 2 })
    expect(w.metrics().byOutcome['no-answer']).toBe(2)
  })

  it('a redelivered dial gets 200 duplicate and only one call_attempts row', async () => {
    const driver = new GatedDriver(new SimDriver(instant))
    const w = await start(driver)
    const c = await newContact()
    const first = await post(dialCommand(c))
    expect(first.status).toBe(202)
    const again = await post(dialCommand(c))
    expect(again.status).toBe(200)
    expect(again.body).toEqual({ callId: `call-camp-1-${c.contactId}-0`, duplicate: true })
    // Same attempt under another call id (e.g. a seed-style timestamped id) is the same dial.
    const otherId = await post(dialCommand({ ...c, callId: 'call-with-another-id' }))
    expect(otherId.body).toEqual({ callId: `call-camp-1-${c.contactId}-0`, duplicate: true })
    driver.open()
    await w.idle()
    const afterEnd = await post(dialCommand(c))
    expect(afterEnd.status).toBe(200)
    expect(await callRows(c.contactId)).toHaveLength(1)
    expect(driver.started).toEqual([`call-camp-1-${c.contactId}-0`])
    expect(w.metrics().rejected.duplicate).toBe(3)
  })

  it('over the campaign cap or the worker cap: 429 with Retry-After, nothing recorded', async () => {
    const driver = new GatedDriver(new SimDriver(instant))
    const w = await start(driver, 3)
    const a = await newContact()
    const b = await newContact()
    expect((await post(dialCommand({ ...a, maxConcurrentCalls: 1 }))).status).toBe(202)
    const capped = await post(dialCommand({ ...b, maxConcurrentCalls: 1 }))
    expect(capped.status).toBe(429)
    expect(capped.headers.get('retry-after')).toBe('2')
    expect(capped.body.error).toBe('campaign_at_capacity')
    expect(await callRows(b.contactId)).toEqual([])

    // Another campaign still fits until the worker-wide cap (3) is reached.
    await insertCampaign(tdb.pool, 'camp-2')
    // The dial gate dials only contacts that exist with that number (issue #11).
    const other = (id: string, n: number) => ({
      contactId: id,
      campaignId: 'camp-2',
      callId: `call-camp-2-${id}-0`,
      phoneNumber: `+97250990000${n}`,
    })
    for (const [n, id] of ['x1', 'x2', 'x3'].entries())
      await insertContact(tdb.pool, 'camp-2', id, other(id, n).phoneNumber)
    for (const [n, id] of ['x1', 'x2'].entries()) {
      const res = await post(dialCommand(other(id, n)))
      expect(res.status).toBe(202)
    }
    const full = await post(dialCommand(other('x3', 2)))
    expect(full.status).toBe(429)
    expect(full.body.error).toBe('worker_at_capacity')
    expect(w.metrics()).toMatchObject({ activeCalls: 3, activeByCampaign: { 'camp-1': 1, 'camp-2': 2 } })

    driver.open()
    await w.idle()
    expect((await post(dialCommand({ ...b, maxConcurrentCalls: 1 }))).status).toBe(202)
    await w.idle()
  })

  it('driver unhealthy: 503 with Retry-After and /health 503', async () => {
    const sim = new SimDriver(instant)
    await start(sim)
    sim.setHealthy(false)
    const c = await newContact()
    const res = await post(dialCommand(c))
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('7')
    expect(await callRows(c.contactId)).toEqual([])
    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(503)
    expect(await health.json()).toMatchObject({
      status: 'unhealthy',
      driver: { name: 'sim', healthy: false },
    })
  })

  it('/health and /metrics shapes', async () => {
    await start(new SimDriver(instant))
    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({
      status: 'ok',
      workerId: 'w-test',
      draining: false,
      driver: { name: 'sim', healthy: true },
      db: { ok: true },
      activeCalls: 0,
    })
    const metrics = await fetch(`${base}/metrics`)
    expect(metrics.status).toBe(200)
    const m = (await metrics.json()) as Record<string, unknown>
    expect(m).toMatchObject({
      workerId: 'w-test',
      driver: 'sim',
      activeCalls: 0,
      attempted: 0,
      answered: 0,
      answerRate: 0,
      byOutcome: { answered: 0, 'no-answer': 0, busy: 0, congestion: 0, failed: 0 },
    })
    expect(typeof m.cpuPercent).toBe('number')
    expect(m.loadavg).toHaveLength(3)
    expect((m.memory as { rssBytes: number }).rssBytes).toBeGreaterThan(0)
    expect((await fetch(`${base}/nope`)).status).toBe(404)
    expect((await fetch(`${base}/dial`)).status).toBe(405)
  })

  it('close() stops accepting and waits for in-flight calls to be recorded', async () => {
    const driver = new GatedDriver(new SimDriver({ ...instant, dtmf: { '1': 1 } }))
    const w = await start(driver)
    const c = await newContact()
    expect((await post(dialCommand(c))).status).toBe(202)
    let closed = false
    const closing = w.close().then((r) => {
      closed = true
      return r
    })
    // the call is at the driver, held there: close() must wait for it
    await vi.waitFor(() => expect(driver.started).toHaveLength(1))
    expect(closed).toBe(false)
    expect((await callRows(c.contactId))[0]?.status).toBe('dialing')
    driver.open()
    expect(await closing).toEqual({ unfinishedCalls: 0 })
    // Only after the call was recorded did close() resolve.
    expect((await callRows(c.contactId))[0]?.status).toBe('answered')
    await expect(fetch(`${base}/health`)).rejects.toThrow()
    worker = undefined
  })

  it('close() gives up after drainTimeoutMs and reports the calls left', async () => {
    const driver = new GatedDriver(new SimDriver(instant))
    const w = createWorker({
      db: tdb.pool,
      driver,
      token: TOKEN,
      workerId: 'w-drain',
      caps: { maxActiveCalls: 10 },
      drainTimeoutMs: 50,
      logger: quiet,
    })
    base = `http://127.0.0.1:${await w.listen(0, '127.0.0.1')}`
    const c = await newContact()
    expect((await post(dialCommand(c))).status).toBe(202)
    expect(await w.close()).toEqual({ unfinishedCalls: 1 })
    driver.open()
    await w.idle()
  })
})
