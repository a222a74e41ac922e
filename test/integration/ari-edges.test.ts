import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { IvrFlow } from '../../src/contracts/ivr.js'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { createAriDriver, type AriDriver, type ReconcileReport } from '../../worker/drivers/ari/index.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { fakeAriDriverConfig } from './worker-fixtures.js'
import { startFakeAri, type CalleeScript, type FakeAriServer } from '../helpers/fake-ari-server.js'
import { seedCampaign, seedFlow } from '../helpers/fixtures.js'

/**
 * #14: telephony at its real edges, each case with the event sequence a real Asterisk 22 sends
 * (/work/shared/ari-events/*.jsonl, replayed by the fake ARI server), outcome and contact state
 * asserted in PostgreSQL.
 */

const TOKEN = 'ari-edges-token-0123456789abcdef'
const CAMPAIGN = 'camp-edges'
const SEED_FLOW: IvrFlow = IvrFlow.parse(seedFlow())
const quiet = (component: string) => createLogger(component, { level: 'SILENT' })

let tdb: TestDb
let fake: FakeAriServer
let driver: AriDriver
let worker: Worker
let base = ''
let seq = 0

beforeAll(async () => {
  tdb = await createTestDb('ari_edges')
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, 'edges', 'active', $2, 'Asia/Jerusalem')`,
    [
      CAMPAIGN,
      JSON.stringify({
        ...seedCampaign().config,
        ivrFlow: SEED_FLOW,
        maxAttemptsPerContact: 3,
        callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
      }),
    ],
  )
})
afterAll(async () => {
  await tdb.drop()
})

beforeEach(async () => {
  fake = await startFakeAri({ playbackMs: 300, failMedia: (uri) => uri.includes('.mp3') })
  driver = createAriDriver(
    fakeAriDriverConfig(fake, { app: 'dialctl-edges', endpointTemplate: 'PJSIP/{digits}@trunk' }),
    {
      logger: quiet('ari-driver'),
    },
  )
  expect(await driver.waitConnected(5_000)).toBe(true)
  worker = createWorker({
    db: tdb.pool,
    driver,
    token: TOKEN,
    workerId: 'w-edges',
    caps: { maxActiveCalls: 10 },
    logger: quiet('worker'),
    call: { ringTimeoutSeconds: 5, recordRetryDelaysMs: [] },
  })
  base = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}`
})
afterEach(async () => {
  await worker.close()
  await driver.close()
  await fake.stop()
})

/** A flow playing `audioUrl`, then waiting `timeout` s for 1 (donate). */
function flowWith(audioUrl: string, timeout = 10): IvrFlow {
  return IvrFlow.parse({
    startNodeId: 'intro',
    nodes: [
      { id: 'intro', type: 'play_audio', audioUrl, nextNodeId: 'ask' },
      {
        id: 'ask',
        type: 'capture_input',
        timeout,
        validInputs: ['1'],
        actions: { '1': { type: 'trigger_donation', parameters: {} } },
      },
    ],
  })
}

const WAV = 'http://media.example/campaign-audio/appeal-8khz.wav'

async function dialWith(script: CalleeScript, flow = flowWith(WAV)): Promise<string> {
  seq++
  const contactId = `e-${seq}`
  const phoneNumber = `+9725022233${String(seq).padStart(2, '0')}`
  await tdb.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status) VALUES ($1, $2, $3, 'queued')`,
    [CAMPAIGN, contactId, phoneNumber],
  )
  fake.onNumber(phoneNumber, script)
  const res = await fetch(`${base}/dial`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      callId: `call-${CAMPAIGN}-${contactId}-0`,
      phoneNumber,
      campaignId: CAMPAIGN,
      contactId,
      audioFileUrl: WAV,
      ivrFlow: flow,
      metadata: {},
      attempt: 0,
    }),
  })
  expect(res.status).toBe(202)
  return contactId
}

async function outcome(contactId: string) {
  const { rows } = await tdb.pool.query(
    `SELECT a.status, a.hangup_cause, a.reason, a.ended_by, c.status AS contact
       FROM call_attempts a JOIN contacts c ON c.campaign_id = a.campaign_id AND c.id = a.contact_id
      WHERE a.contact_id = $1`,
    [contactId],
  )
  return rows[0] as {
    status: string
    hangup_cause: number | null
    reason: string | null
    ended_by: string | null
    contact: string
  }
}

const callIdOf = (contactId: string) => `call-${CAMPAIGN}-${contactId}-0`

describe('outcome table against the fake Asterisk (recorded sequences)', () => {
  it.each([
    // Busy(): Dial BUSY, ChannelDestroyed cause 0 → busy with 17 (busy-via-Busy-app.jsonl)
    ['Busy()', { kind: 'busy' } as CalleeScript, { status: 'busy', hangup_cause: 17, contact: 'pending' }],
    // Hangup(17): cause 17 on the channel (busy-via-Hangup-17.jsonl)
    [
      'Hangup(17)',
      { kind: 'reject', cause: 17, dialStatus: 'BUSY' } as CalleeScript,
      { status: 'busy', hangup_cause: 17, contact: 'pending' },
    ],
    // Congestion(): Dial CONGESTION, cause 0 → congestion with 34 (congestion-via-Congestion-app.jsonl)
    [
      'Congestion()',
      { kind: 'congestion' } as CalleeScript,
      { status: 'congestion', hangup_cause: 34, contact: 'pending' },
    ],
  ])('%s → %j', async (_name, script, expected) => {
    const contactId = await dialWith(script)
    await worker.idle()
    expect(await outcome(contactId)).toMatchObject({ ...expected, reason: null, ended_by: null })
  })

  it('media failure on a live channel (mp3 Asterisk cannot play): failed, reason media, contact retried — never done', async () => {
    const contactId = await dialWith(
      { kind: 'answer', afterMs: 10 },
      flowWith('https://s3.example/audio.mp3'),
    )
    await worker.idle()
    expect(await outcome(contactId)).toMatchObject({
      status: 'failed',
      reason: 'media',
      ended_by: 'media-failure',
      contact: 'pending',
    })
    // we hung the silent channel up ourselves
    expect(fake.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(callIdOf(contactId)))).toBe(
      true,
    )
    // the metric doctor and alarms read
    const metrics = (await (await fetch(`${base}/metrics`)).json()) as { mediaFailures: number }
    expect(metrics.mediaFailures).toBe(1)
  })

  it('callee hangs up during the prompt (PlaybackFinished "failed" after the hang-up): answered, not a media failure', async () => {
    const contactId = await dialWith({ kind: 'answer', afterMs: 10 })
    const playing = (e: Record<string, unknown>) =>
      e.type === 'PlaybackStarted' &&
      (e.playback as { target_uri: string }).target_uri === `channel:${callIdOf(contactId)}`
    await vi.waitFor(() => expect(fake.sentEvents.some(playing)).toBe(true))
    fake.calleeHangup(callIdOf(contactId))
    await worker.idle()
    expect(await outcome(contactId)).toMatchObject({
      status: 'answered',
      reason: null,
      ended_by: 'callee-hangup',
      contact: 'done',
    })
    const finished = fake.sentEvents.filter((e) => e.type === 'PlaybackFinished')
    expect(finished.map((e) => (e.playback as { state: string }).state)).toEqual(['failed'])
  })

  it('graceful Asterisk restart: the answered call ends by telephony-restart (contact done), the ringing one fails retryably (not no-answer)', async () => {
    const answered = await dialWith({ kind: 'answer', afterMs: 10 })
    const ringing = await dialWith({ kind: 'no-answer', ignoreTimeout: true })
    await vi.waitFor(() => {
      expect(fake.channel(callIdOf(answered))?.state).toBe('Up')
      expect(fake.channel(callIdOf(ringing))?.state).toBe('Ringing')
      expect(fake.requests.some((r) => r.path.includes('/play/'))).toBe(true)
    })
    await fake.restart({ graceful: true })
    await worker.idle()
    expect(await outcome(answered)).toMatchObject({
      status: 'answered',
      ended_by: 'telephony-restart',
      reason: 'telephony-restart',
      contact: 'done',
    })
    expect(await outcome(ringing)).toMatchObject({
      status: 'failed',
      reason: 'telephony-restart',
      hangup_cause: null,
      contact: 'pending',
    })
  })

  it('Asterisk killed (no events, channels gone): the answered call ends by telephony-restart on reconnect', async () => {
    const answered = await dialWith({ kind: 'answer', afterMs: 10 })
    await vi.waitFor(() =>
      expect(fake.requests.some((r) => r.path.includes(callIdOf(answered) + '/play/'))).toBe(true),
    )
    await fake.restart()
    expect(await driver.waitConnected(5_000)).toBe(true)
    await worker.idle()
    expect(await outcome(answered)).toMatchObject({
      status: 'answered',
      ended_by: 'telephony-restart',
      contact: 'done',
    })
  })
})

describe('reconcile on connect', () => {
  it('a channel already in the app when the driver connects, that no call owns, is hung up and reported', async () => {
    fake.placeInApp('dialctl-edges', 'call-left-behind-0', 'Up')
    fake.placeInApp('someone-else', 'call-not-ours-0', 'Up')
    const reports: ReconcileReport[] = []
    driver.onReconcile((r) => reports.push(r))
    fake.dropSockets()
    await vi.waitFor(() => expect(reports.length).toBeGreaterThan(0))
    expect(reports.flatMap((r) => r.orphans)).toEqual([
      { channelId: 'call-left-behind-0', state: 'Up', hungUp: true },
    ])
    expect(fake.channelIds()).toEqual(['call-not-ours-0'])
  })
})

describe('drain', () => {
  it('keeps the listener open and answers POST /dial with 503 until the last call ends, then closes', async () => {
    const contactId = await dialWith({ kind: 'answer', afterMs: 10 })
    await vi.waitFor(() => expect(fake.channel(callIdOf(contactId))?.state).toBe('Up'))
    const closing = worker.close()
    seq++
    const res = await fetch(`${base}/dial`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        callId: `call-${CAMPAIGN}-drain-${seq}-0`,
        phoneNumber: '+972502223399',
        campaignId: CAMPAIGN,
        contactId: `drain-${seq}`,
        audioFileUrl: WAV,
        ivrFlow: flowWith(WAV),
        metadata: {},
        attempt: 0,
      }),
    })
    expect(res.status).toBe(503)
    // draining is a state the dialer defers on (a short Retry-After), not a fault of the task
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({
      error: 'draining',
      message: expect.stringMatching(/shutting down/),
    })
    fake.calleeHangup(callIdOf(contactId))
    expect(await closing).toEqual({ unfinishedCalls: 0 })
    await expect(fetch(`${base}/health`)).rejects.toThrow()
  })
})

describe('credentials', () => {
  it('401: waitConnected resolves false and the refusal names ARI_USER / ARI_PASSWORD and the ari.conf section', async () => {
    const bad = createAriDriver(
      {
        url: fake.url,
        username: 'dialctl',
        password: 'not-the-password',
        app: 'dialctl-badauth',
        endpointTemplate: 'PJSIP/{digits}@trunk',
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        heartbeatMs: 0,
      },
      { logger: quiet('ari-driver') },
    )
    try {
      expect(await bad.waitConnected(5_000)).toBe(false)
      expect(bad.state()).toBe('unauthorized')
      expect(bad.refusal()).toMatch(/ARI_USER \/ ARI_PASSWORD/)
      expect(bad.refusal()).toMatch(/\[dialctl\] section with type = user/)
      expect(bad.refusal()).not.toContain('not-the-password')
    } finally {
      await bad.close()
    }
  })
})
