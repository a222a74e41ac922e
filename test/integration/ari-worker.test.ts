import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { IvrFlow } from '../../src/contracts/ivr.js'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { createAriDriver, type AriDriver } from '../../worker/drivers/ari/index.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { fakeAriDriverConfig } from './worker-fixtures.js'
import { startFakeAri, type FakeAriServer } from '../helpers/fake-ari-server.js'
import { seedCampaign, seedFlow } from '../helpers/fixtures.js'

/**
 * The whole worker path on ARI: POST /dial → runCall → IVR runner → ARI driver → (fake) Asterisk,
 * outcomes in the real PostgreSQL. The flow is the seed's (docs "Enriched Message").
 */

const TOKEN = 'ari-test-token-0123456789abcdef'
const CAMPAIGN = 'camp-ari'
const SEED_FLOW: IvrFlow = IvrFlow.parse(seedFlow())
const SEED_CONFIG = {
  ...seedCampaign().config,
  ivrFlow: SEED_FLOW,
  callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
}
const quiet = (component: string) => createLogger(component, { level: 'SILENT' })

let tdb: TestDb
let fake: FakeAriServer
let driver: AriDriver
let worker: Worker
let base = ''
let seq = 0

beforeAll(async () => {
  tdb = await createTestDb('ari_worker')
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, 'ARI test', 'active', $2, 'Asia/Jerusalem')`,
    [CAMPAIGN, JSON.stringify(SEED_CONFIG)],
  )
})
afterAll(async () => {
  await tdb.drop()
})

beforeEach(async () => {
  fake = await startFakeAri({ playbackMs: 20 })
  driver = createAriDriver(
    fakeAriDriverConfig(fake, { app: 'dialctl-worker-test', endpointTemplate: 'PJSIP/{digits}@trunk' }),
    {
      logger: quiet('ari-driver'),
    },
  )
  expect(await driver.waitConnected(5_000)).toBe(true)
  worker = createWorker({
    db: tdb.pool,
    driver,
    token: TOKEN,
    workerId: 'w-ari',
    caps: { maxActiveCalls: 10, unavailableRetryAfterSeconds: 3 },
    logger: quiet('worker'),
    call: { ringTimeoutSeconds: 1, recordRetryDelaysMs: [] },
  })
  base = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}`
})
afterEach(async () => {
  await worker.close()
  await driver.close()
  await fake.stop()
})

async function newContact(): Promise<{ contactId: string; phoneNumber: string }> {
  seq++
  const c = { contactId: `ari-${seq}`, phoneNumber: `+9725012345${String(seq).padStart(2, '0')}` }
  await tdb.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status) VALUES ($1, $2, $3, 'queued')`,
    [CAMPAIGN, c.contactId, c.phoneNumber],
  )
  return c
}

function dial(c: { contactId: string; phoneNumber: string }, flow: IvrFlow = SEED_FLOW): Promise<Response> {
  return fetch(`${base}/dial`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      callId: `call-${CAMPAIGN}-${c.contactId}-0`,
      phoneNumber: c.phoneNumber,
      campaignId: CAMPAIGN,
      contactId: c.contactId,
      audioFileUrl: SEED_CONFIG.audioFileUrl,
      ivrFlow: flow,
      metadata: {},
      attempt: 0,
    }),
  })
}

async function callRow(contactId: string) {
  const { rows } = await tdb.pool.query(
    `SELECT a.status, a.hangup_cause, a.digit, a.actions, a.error, c.status AS contact_status
       FROM call_attempts a JOIN contacts c ON c.campaign_id = a.campaign_id AND c.id = a.contact_id
      WHERE a.contact_id = $1`,
    [contactId],
  )
  return rows[0] as
    | {
        status: string
        hangup_cause: number | null
        digit: string | null
        actions: unknown[]
        error: string | null
        contact_status: string
      }
    | undefined
}

async function countRows(table: 'donations' | 'blacklist', column: string, value: string): Promise<number> {
  const { rows } = await tdb.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [
    value,
  ])
  return (rows[0] as { n: number }).n
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  await vi.waitUntil(check, { timeout: timeoutMs, interval: 10 }).catch(() => {
    throw new Error(`timed out waiting for ${what}`)
  })
}

describe('worker on the ARI driver, seed flow, outcomes in PostgreSQL', () => {
  it('answered + digit 1 → trigger_donation: donation row, call answered, contact done', async () => {
    const c = await newContact()
    fake.onNumber(c.phoneNumber, { kind: 'answer', afterMs: 10, digits: [{ digit: '1', afterMs: 100 }] })
    expect((await dial(c)).status).toBe(202)
    await worker.idle()
    expect(await callRow(c.contactId)).toMatchObject({
      status: 'answered',
      digit: '1',
      actions: [{ type: 'trigger_donation', ok: true, digit: '1' }],
      contact_status: 'done',
    })
    expect(await countRows('donations', 'contact_id', c.contactId)).toBe(1)
    expect(await countRows('blacklist', 'phone_number', c.phoneNumber)).toBe(0)
    // the seed's https audio went to Asterisk as an HTTP media URI
    expect(fake.requests.find((r) => r.path.includes('/play/'))?.query.media).toBe(
      'sound:https://s3.amazonaws.com/bucket/audio.mp3',
    )
  })

  it('answered + digit 9 → add_to_blacklist: the number is blacklisted, no donation', async () => {
    const c = await newContact()
    fake.onNumber(c.phoneNumber, { kind: 'answer', afterMs: 10, digits: [{ digit: '9', afterMs: 100 }] })
    expect((await dial(c)).status).toBe(202)
    await worker.idle()
    expect(await callRow(c.contactId)).toMatchObject({
      status: 'answered',
      digit: '9',
      contact_status: 'done',
    })
    expect(await countRows('blacklist', 'phone_number', c.phoneNumber)).toBe(1)
    expect(await countRows('donations', 'contact_id', c.contactId)).toBe(0)
  })

  it('no answer → no-answer with cause 19, contact back to pending for a retry', async () => {
    const c = await newContact()
    fake.onNumber(c.phoneNumber, { kind: 'no-answer' })
    expect((await dial(c)).status).toBe(202)
    await worker.idle()
    expect(await callRow(c.contactId)).toMatchObject({
      status: 'no-answer',
      hangup_cause: 19,
      contact_status: 'pending',
    })
  })

  it('busy → busy with cause 17, contact pending', async () => {
    const c = await newContact()
    fake.onNumber(c.phoneNumber, { kind: 'busy' })
    expect((await dial(c)).status).toBe(202)
    await worker.idle()
    expect(await callRow(c.contactId)).toMatchObject({
      status: 'busy',
      hangup_cause: 17,
      contact_status: 'pending',
    })
  })

  it('invalid digit (5) → no action, the call ends, nothing recorded as donation or blacklist', async () => {
    const c = await newContact()
    fake.onNumber(c.phoneNumber, { kind: 'answer', afterMs: 10, digits: [{ digit: '5', afterMs: 100 }] })
    expect((await dial(c)).status).toBe(202)
    await worker.idle()
    expect(await callRow(c.contactId)).toMatchObject({
      status: 'answered',
      digit: null,
      actions: [],
      contact_status: 'done',
    })
    expect(await countRows('donations', 'contact_id', c.contactId)).toBe(0)
    expect(await countRows('blacklist', 'phone_number', c.phoneNumber)).toBe(0)
    expect(fake.channelIds()).toEqual([])
  })

  it('no digit before the capture timeout → the call ends without an action and the channel is hung up', async () => {
    const c = await newContact()
    fake.onNumber(c.phoneNumber, { kind: 'answer', afterMs: 10 })
    // the seed's node with a 1 s timeout instead of 10, to keep the suite quick
    const flow: IvrFlow = {
      ...SEED_FLOW,
      nodes: SEED_FLOW.nodes.map((n) => (n.type === 'capture_input' ? { ...n, timeout: 1 } : n)),
    }
    expect((await dial(c, flow)).status).toBe(202)
    await worker.idle()
    expect(await callRow(c.contactId)).toMatchObject({ status: 'answered', digit: null, actions: [] })
    expect(fake.requests.find((r) => r.method === 'DELETE')?.query).toEqual({ reason_code: '16' })
    expect(fake.channelIds()).toEqual([])
  })

  it('Asterisk restart mid-run: /health and /dial answer 503 while down; after the reconnect no call stays dialing', async () => {
    const answered = await newContact()
    const ringing = await newContact()
    fake.onNumber(answered.phoneNumber, { kind: 'answer', afterMs: 10 }) // then waits in capture (10 s)
    fake.onNumber(ringing.phoneNumber, { kind: 'no-answer', ignoreTimeout: true })
    expect((await dial(answered)).status).toBe(202)
    await until(() => fake.requests.some((r) => r.path.includes('/play/')), 'the IVR to start')
    // ring longer than the restart takes, so it is the reconciliation that ends it
    const longRing = await fetch(`${base}/dial`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        callId: `call-${CAMPAIGN}-${ringing.contactId}-0`,
        phoneNumber: ringing.phoneNumber,
        campaignId: CAMPAIGN,
        contactId: ringing.contactId,
        audioFileUrl: SEED_CONFIG.audioFileUrl,
        ivrFlow: SEED_FLOW,
        attempt: 0,
      }),
    })
    expect(longRing.status).toBe(202)
    await until(() => fake.channelIds().length === 2, 'both channels')

    // Asterisk stays down until the checks below have seen it down, then comes back.
    let seenDown!: () => void
    const restarted = fake.restart({ until: new Promise<void>((resolve) => (seenDown = resolve)) })
    await until(() => !driver.healthy(), 'the driver to see Asterisk go')
    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(503)
    expect(await health.json()).toMatchObject({
      status: 'unhealthy',
      driver: { name: 'ari', healthy: false },
    })
    const refused = await dial(await newContact())
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('3')
    seenDown()
    await restarted

    expect(await driver.waitConnected(5_000)).toBe(true)
    await worker.idle()
    expect(await callRow(answered.contactId)).toMatchObject({ status: 'answered', contact_status: 'done' })
    expect(await callRow(ringing.contactId)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/Asterisk restarted/),
      contact_status: 'pending',
    })
    const { rows } = await tdb.pool.query(
      `SELECT count(*)::int AS n FROM call_attempts WHERE status = 'dialing'`,
    )
    expect(rows[0]).toEqual({ n: 0 })
    expect((await fetch(`${base}/health`)).status).toBe(200)
  })
})
