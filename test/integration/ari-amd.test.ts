import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { AmdConfig } from '../../src/contracts/campaign.js'
import { IvrFlow } from '../../src/contracts/ivr.js'
import { createLogger } from '../../src/observability/logger.js'
import { campaignStats } from '../../src/campaigns/stats.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { createAriDriver, type AriDriver } from '../../worker/drivers/ari/index.js'
import { DataPlane } from '../../src/control/data.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis } from '../helpers/redis.js'
import { fakeAriDriverConfig } from './worker-fixtures.js'
import { startFakeAri, type CalleeScript, type FakeAriServer } from '../helpers/fake-ari-server.js'
import { seedCampaign, seedFlow } from '../helpers/fixtures.js'

/**
 * Answering-machine detection through the ARI driver, against the fake ARI server's AMD case
 * (the documented `dialctl-amd` context: ChannelVarset AMDSTATUS/AMDCAUSE, then StasisStart with
 * args amd,<status>,<cause>), the worker and a real PostgreSQL: the call row and the contact state
 * of each case.
 */

const TOKEN = 'amd-token-0123456789abcdef'
const CAMPAIGN = 'camp-amd'
const FLOW: IvrFlow = (() => {
  const flow = IvrFlow.parse(seedFlow())
  return { ...flow, nodes: flow.nodes.map((n) => (n.type === 'capture_input' ? { ...n, timeout: 1 } : n)) }
})()
const VOICEMAIL_URL = 'http://media.example/voicemail-8khz.wav'
const quiet = (component: string) => createLogger(component, { level: 'SILENT' })

let tdb: TestDb
let fake: FakeAriServer
let driver: AriDriver
let worker: Worker
let base = ''

beforeAll(async () => {
  tdb = await createTestDb('ari_amd')
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, 'amd', 'active', $2, 'Asia/Jerusalem')`,
    [
      CAMPAIGN,
      JSON.stringify({
        ...seedCampaign().config,
        ivrFlow: FLOW,
        callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
        maxAttemptsPerContact: 2,
      }),
    ],
  )
  fake = await startFakeAri({ playbackMs: 30 })
  driver = createAriDriver(
    fakeAriDriverConfig(fake, {
      app: 'dialctl-amd-test',
      endpointTemplate: 'Local/{digits}@dialctl-test',
      ringGraceMs: 500,
      amdTimeoutMs: 2_000,
    }),
    {
      logger: quiet('ari-driver'),
    },
  )
  expect(await driver.waitConnected(5_000)).toBe(true)
  worker = createWorker({
    db: tdb.pool,
    driver,
    token: TOKEN,
    workerId: 'w-amd',
    caps: { maxActiveCalls: 20 },
    logger: quiet('worker'),
    call: { ringTimeoutSeconds: 2, recordRetryDelaysMs: [] },
  })
  base = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}`
})
afterAll(async () => {
  await worker?.close()
  await driver?.close()
  await fake?.stop()
  await tdb.drop()
})

async function dial(
  contactId: string,
  phoneNumber: string,
  script: CalleeScript,
  amd: AmdConfig | undefined,
  attempt = 0,
): Promise<void> {
  await tdb.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts) VALUES ($1, $2, $3, 'queued', $4)`,
    [CAMPAIGN, contactId, phoneNumber, attempt],
  )
  fake.onNumber(phoneNumber, script)
  const res = await fetch(`${base}/dial`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      callId: `call-${CAMPAIGN}-${contactId}-${attempt}`,
      phoneNumber,
      campaignId: CAMPAIGN,
      contactId,
      audioFileUrl: 'http://media.example/appeal-8khz.wav',
      ivrFlow: FLOW,
      metadata: {},
      attempt,
      ...(amd ? { amd } : {}),
    }),
  })
  expect(res.status).toBe(202)
}

describe('AMD through ARI (fake Asterisk, real PostgreSQL)', () => {
  it('records human, machine + hangup, machine + voicemail with the documented contact states', async () => {
    const machine = { status: 'MACHINE', cause: 'LONGGREETING-2100-1500' } as const
    await dial(
      'human',
      '+972504440001',
      // presses 1 on hearing the prompt: a digit pressed while AMD listened would reach no one
      { kind: 'answer', afterMs: 10, digits: [{ digit: '1', afterMs: 20, from: 'prompt' }] },
      {
        mode: 'hangup',
      },
    )
    await dial(
      'machine-hangup',
      '+972504440002',
      { kind: 'answer', afterMs: 10, amd: machine },
      { mode: 'hangup' },
    )
    await dial(
      'machine-hangup-last',
      '+972504440003',
      { kind: 'answer', afterMs: 10, amd: machine },
      { mode: 'hangup' },
      1,
    )
    await dial(
      'machine-voicemail',
      '+972504440004',
      { kind: 'answer', afterMs: 10, amd: machine },
      {
        mode: 'voicemail',
        messageUrl: VOICEMAIL_URL,
      },
    )
    await dial(
      'notsure',
      '+972504440005',
      { kind: 'answer', afterMs: 10, amd: { status: 'NOTSURE' } },
      {
        mode: 'hangup',
      },
    )
    await dial('amd-off', '+972504440006', { kind: 'answer', afterMs: 10, amd: machine }, undefined)
    await worker.idle()

    const { rows } = await tdb.pool.query<Record<string, unknown>>(
      `SELECT a.contact_id, a.status, a.ended_by, a.digit, c.status AS contact, c.last_outcome
         FROM call_attempts a JOIN contacts c ON c.campaign_id = a.campaign_id AND c.id = a.contact_id
        WHERE a.campaign_id = $1 ORDER BY a.contact_id`,
      [CAMPAIGN],
    )
    const table = Object.fromEntries(rows.map(({ contact_id, ...r }) => [contact_id as string, r]))
    expect(table).toEqual({
      // a person: the IVR runs as without AMD
      human: {
        status: 'answered',
        ended_by: 'completed',
        digit: '1',
        contact: 'done',
        last_outcome: 'answered',
      },
      // a machine hung up on: retried like a no-answer…
      'machine-hangup': {
        status: 'machine',
        ended_by: 'amd-hangup',
        digit: null,
        contact: 'pending',
        last_outcome: 'machine',
      },
      // …until the attempt limit
      'machine-hangup-last': {
        status: 'machine',
        ended_by: 'amd-hangup',
        digit: null,
        contact: 'failed',
        last_outcome: 'machine',
      },
      // the message played whole: the number was reached, the appeal delivered
      'machine-voicemail': {
        status: 'machine',
        ended_by: 'voicemail-left',
        digit: null,
        contact: 'done',
        last_outcome: 'machine',
      },
      // not sure: treated as a person (never hang up on someone who might be one)
      notsure: {
        status: 'answered',
        ended_by: 'timeout',
        digit: null,
        contact: 'done',
        last_outcome: 'answered',
      },
      // AMD off: no detection, the IVR plays to whoever answered
      'amd-off': {
        status: 'answered',
        ended_by: 'timeout',
        digit: null,
        contact: 'done',
        last_outcome: 'answered',
      },
    })

    // AMD ran in the dialplan for every AMD call (continue into dialctl-amd), never for amd off
    const continued = fake.requests.filter((r) => r.path.endsWith('/continue'))
    expect(continued.map((r) => r.path.split('/')[3]).sort()).toEqual(
      ['human', 'machine-hangup', 'machine-hangup-last', 'machine-voicemail', 'notsure']
        .map((c) => `call-${CAMPAIGN}-${c}-${c === 'machine-hangup-last' ? 1 : 0}`)
        .sort(),
    )
    expect(continued.every((r) => r.query.context === 'dialctl-amd' && r.query.extension === 's')).toBe(true)
    // the voicemail message was played to the machine, and only there
    const plays = fake.requests.filter((r) => r.path.includes('/play/'))
    expect(
      plays.filter((r) => r.query.media?.includes('voicemail-8khz')).map((r) => r.path.split('/')[3]),
    ).toEqual([`call-${CAMPAIGN}-machine-voicemail-0`])

    // counted apart: machines are not human answers (worker /metrics and campaign show)
    const metrics = worker.metrics()
    expect(metrics.byOutcome.machine).toBe(3)
    expect(metrics.machines).toBe(3)
    expect(metrics.answered).toBe(3)
    const stats = await campaignStats(tdb.pool, CAMPAIGN, { cpsLimit: 1 })
    expect(stats).toMatchObject({ answered: 3, machines: 3, answerRate: 0.5, machineRate: 0.5 })
    // the pacer's answer-rate input (cps auto): human answers over finished calls
    const redis = await createTestRedis('ari_amd')
    try {
      const data = new DataPlane({
        pool: tdb.pool,
        redis: redis.redis,
        redisPrefix: redis.prefix,
        defaultLimit: 1,
      })
      expect(await data.answerRate(60)).toEqual({ answerRate: 0.5, sample: 6 })
    } finally {
      await redis.cleanup()
    }
  })

  it('a callee gone while AMD listens is an answered call, not re-dialed', async () => {
    await dial(
      'gone',
      '+972504440007',
      {
        kind: 'answer',
        afterMs: 10,
        hangupAfterMs: 2,
        amd: { status: 'HUMAN', afterMs: 200 },
      },
      { mode: 'hangup' },
    )
    await worker.idle()
    const { rows } = await tdb.pool.query(
      `SELECT a.status, c.status AS contact FROM call_attempts a
         JOIN contacts c ON c.campaign_id = a.campaign_id AND c.id = a.contact_id WHERE a.contact_id = 'gone'`,
    )
    expect(rows).toEqual([{ status: 'answered', contact: 'done' }])
  })

  it("docs/asterisk.md's [dialctl-amd] context is the one the driver and the fake server speak", () => {
    const doc = readFileSync(new URL('../../docs/asterisk.md', import.meta.url), 'utf8')
    const start = doc.indexOf('[dialctl-amd]')
    expect(start, 'docs/asterisk.md has a [dialctl-amd] context').toBeGreaterThan(0)
    const lines = doc
      .slice(start, doc.indexOf('```', start))
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith(';'))
    // extension s, priority 1 (what the driver continues to) runs AMD() first
    expect(lines[0]).toBe('exten => s,1,AMD()')
    // the way back is the Stasis args the driver parses (and the fake server sends)
    expect(lines).toContain('same => n(back),Stasis(${DIALCTL_ARI_APP},amd,${AMDSTATUS},${AMDCAUSE})')
    // every variable the dialplan reads is set by AMD() or by the driver on the originate
    const originate = fake.requests.find(
      (r) => r.method === 'POST' && r.path === `/ari/channels/call-${CAMPAIGN}-machine-voicemail-0`,
    )
    const variables = (originate?.body as { variables: Record<string, string> }).variables
    expect(variables).toMatchObject({ DIALCTL_ARI_APP: 'dialctl-amd-test', DIALCTL_AMD: 'voicemail' })
    const read = new Set([...lines.join('\n').matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!))
    for (const name of read) expect(['AMDSTATUS', 'AMDCAUSE', ...Object.keys(variables)]).toContain(name)
    // every line is an application the test recognises (no untested step slips in)
    for (const line of lines)
      expect(line).toMatch(
        /^(exten => s,1,|same => n(\(\w+\))?,)(AMD|GotoIf|Stasis|Hangup|WaitForSilence|Goto)\(/,
      )
  })

  it('a missing AMD context gives the call up within amdTimeoutMs, naming the context (never a silent call)', async () => {
    const lost = createAriDriver(
      {
        url: fake.url,
        username: fake.username,
        password: fake.password,
        app: 'dialctl-amd-missing',
        endpointTemplate: 'Local/{digits}@dialctl-test',
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        heartbeatMs: 0,
        amdContext: 'no-such-amd-context',
        amdTimeoutMs: 300,
      },
      { logger: quiet('ari-driver') },
    )
    try {
      expect(await lost.waitConnected(5_000)).toBe(true)
      fake.onNumber('+972504440099', { kind: 'answer', afterMs: 10 })
      const { result, call } = await lost.originate({
        callId: 'amd-missing-1',
        phoneNumber: '+972504440099',
        ringTimeoutSeconds: 2,
        variables: {},
        amd: 'hangup',
      })
      expect(call).toBeUndefined()
      expect(result.outcome).toBe('failed')
      expect(result.error).toContain('no-such-amd-context')
      await vi.waitFor(() => expect(fake.channel('amd-missing-1')).toBeUndefined())
    } finally {
      await lost.close()
    }
  })
})
