import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { zonesOfNumber } from '../../src/campaigns/callee-zones.js'
import { claimCall } from '../../src/calls/recorder.js'
import type { ClaimResult } from '../../src/calls/gate.js'
import { callIdFor, type DialCommand, type EnrichedDialTask } from '../../src/contracts/index.js'
import { createRedisDialMarker } from '../../src/dialer/dial-marker.js'
import { handleDialBatch, type DialerDeps } from '../../src/dialer/handle-batch.js'
import { createPgOutcomeRecorder } from '../../src/dialer/ports.js'
import { createWorkerClient, dialCommandFor } from '../../src/dialer/worker-client.js'
import { holdClosedCallees } from '../../src/dispatch/callee-window.js'
import { createLogger } from '../../src/observability/logger.js'
import type { OriginateRequest, TelephonyDriver } from '../../src/telephony/driver.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { SimDriver } from '../../worker/drivers/sim.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { flow } from './worker-fixtures.js'

/**
 * The dial gate (issue #11) against real PostgreSQL (and Redis for the dialer): every rule decided
 * at the claim, with exact counts of what was dialed and what was recorded.
 */

const TOKEN = 'gate-token-0123456789abcdef'
const quiet = createLogger('gate', { level: 'SILENT' })
let tdb: TestDb
let redis: TestRedis

beforeAll(async () => {
  tdb = await createTestDb('dial_gate')
  redis = await createTestRedis('dial-gate')
})
afterAll(async () => {
  await tdb.drop()
  await redis.cleanup()
})

const ALL_DAY = [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }]
const NINE_TO_NINE = [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 9, endHour: 21 }]

function config(windows: unknown, maxAttempts = 3) {
  return {
    audioFileUrl: 'https://example.test/intro.mp3',
    ivrFlow: flow,
    callingWindows: windows,
    maxConcurrentCalls: 100,
    maxAttemptsPerContact: maxAttempts,
  }
}

async function campaign(
  id: string,
  options: { tz?: string; windows?: unknown; status?: string; max?: number } = {},
) {
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, $1, $2, $3, $4)`,
    [
      id,
      options.status ?? 'active',
      JSON.stringify(config(options.windows ?? ALL_DAY, options.max)),
      options.tz ?? 'UTC',
    ],
  )
}

/** A contact as import would write it: its number's zones stored, an explicit zone if given. */
async function contact(
  campaignId: string,
  id: string,
  phone: string,
  state: { status?: string; attempts?: number; timezone?: string } = {},
) {
  await tdb.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts, timezone, number_timezones)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      campaignId,
      id,
      phone,
      state.status ?? 'queued',
      state.attempts ?? 0,
      state.timezone ?? null,
      zonesOfNumber(phone),
    ],
  )
}

function cmd(campaignId: string, contactId: string, phoneNumber: string, attempt = 0): DialCommand {
  return {
    callId: callIdFor({ campaignId, contactId, attempts: attempt }),
    campaignId,
    contactId,
    phoneNumber,
    audioFileUrl: 'https://example.test/intro.mp3',
    ivrFlow: flow as DialCommand['ivrFlow'],
    metadata: {},
    attempt,
  }
}

async function contactState(campaignId: string, id: string) {
  const { rows } = await tdb.pool.query<{
    status: string
    attempts: number
    next_attempt_at: Date
    last_outcome: string | null
  }>(
    'SELECT status, attempts, next_attempt_at, last_outcome FROM contacts WHERE campaign_id = $1 AND id = $2',
    [campaignId, id],
  )
  return rows[0]
}

async function callCount(campaignId: string): Promise<number> {
  const { rows } = await tdb.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM call_attempts WHERE campaign_id = $1',
    [campaignId],
  )
  return Number(rows[0]!.n)
}

const at = (iso: string) => () => new Date(iso)
const refusal = (r: ClaimResult) => (r.kind === 'refused' ? r.reason : r.kind)

describe('the dial gate: rules at the claim', () => {
  it('paused campaign: refused, contact released to pending with its attempt not counted', async () => {
    await campaign('g-paused', { status: 'paused' })
    await contact('g-paused', 'p1', '+12125550101')
    const r = await claimCall(tdb.pool, cmd('g-paused', 'p1', '+12125550101'), 'w1')
    expect(r).toMatchObject({ kind: 'refused', reason: 'campaign_not_active', detail: 'campaign is paused' })
    expect(await contactState('g-paused', 'p1')).toMatchObject({ status: 'pending', attempts: 0 })
    expect(await callCount('g-paused')).toBe(0)
  })

  it('a task at maxAttemptsPerContact: refused, and the contact fails (max_attempts) instead of staying queued with no task (#16)', async () => {
    await campaign('g-max', { max: 3 })
    await contact('g-max', 'full', '+12125550113', { attempts: 3 })
    await contact('g-max', 'over', '+12125550116', { attempts: 5 })
    const full = await claimCall(tdb.pool, cmd('g-max', 'full', '+12125550113', 3), 'w1')
    const over = await claimCall(tdb.pool, cmd('g-max', 'over', '+12125550116', 5), 'w1')
    expect(full).toMatchObject({ kind: 'refused', reason: 'max_attempts', effect: { kind: 'failed' } })
    expect(over).toMatchObject({ kind: 'refused', reason: 'max_attempts' })
    expect(await contactState('g-max', 'full')).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_outcome: 'max_attempts',
    })
    expect(await contactState('g-max', 'over')).toMatchObject({
      status: 'failed',
      last_outcome: 'max_attempts',
    })
    expect(await callCount('g-max')).toBe(0)
  })

  it('forged, stale and different-number tasks: refused, recorded, contact untouched', async () => {
    await campaign('g-forged', { max: 3 })
    await contact('g-forged', 'done1', '+12125550111', { status: 'done', attempts: 1 })
    await contact('g-forged', 'q2', '+12125550112', { attempts: 2 })
    await contact('g-forged', 'num', '+12125550114')
    const before = await tdb.pool.query('SELECT * FROM contacts WHERE campaign_id = $1 ORDER BY id', [
      'g-forged',
    ])
    const results = [
      await claimCall(tdb.pool, cmd('g-forged', 'done1', '+12125550111', 1), 'w1'),
      await claimCall(tdb.pool, cmd('g-forged', 'done1', '+12125550111', 7), 'w1'),
      await claimCall(tdb.pool, cmd('g-forged', 'q2', '+12125550112', 0), 'w1'),
      await claimCall(tdb.pool, cmd('g-forged', 'num', '+12125550199', 0), 'w1'),
      await claimCall(tdb.pool, cmd('g-forged', 'ghost', '+12125550115', 0), 'w1'),
      await claimCall(tdb.pool, cmd('g-nope', 'ghost', '+12125550115', 0), 'w1'),
    ]
    expect(results.map(refusal)).toEqual([
      'contact_not_dialable',
      'stale_attempt',
      'stale_attempt',
      'number_mismatch',
      'contact_unknown',
      'campaign_unknown',
    ])
    expect(results.every((r) => r.kind === 'refused' && r.effect.kind === 'untouched')).toBe(true)
    const after = await tdb.pool.query('SELECT * FROM contacts WHERE campaign_id = $1 ORDER BY id', [
      'g-forged',
    ])
    expect(after.rows).toEqual(before.rows)
    expect(await callCount('g-forged')).toBe(0)
  })

  it('a Honolulu and an Anchorage contact of a New York campaign wait for their own window; New York is dialed', async () => {
    await campaign('g-tz', { tz: 'America/New_York', windows: NINE_TO_NINE })
    await contact('g-tz', 'ny', '+12125550121')
    await contact('g-tz', 'hnl', '+18085550122')
    await contact('g-tz', 'anc', '+19075550123')
    // 09:30 in New York (EDT), 03:30 in Honolulu, 05:30 in Anchorage, 04:30 on Adak
    const now = at('2026-06-15T13:30:00Z')
    const ny = await claimCall(tdb.pool, cmd('g-tz', 'ny', '+12125550121'), 'w1', { now })
    const hnl = await claimCall(tdb.pool, cmd('g-tz', 'hnl', '+18085550122'), 'w1', { now })
    const anc = await claimCall(tdb.pool, cmd('g-tz', 'anc', '+19075550123'), 'w1', { now })
    expect(ny.kind).toBe('claimed')
    expect(hnl).toMatchObject({ kind: 'refused', reason: 'outside_calling_window' })
    expect(hnl.kind === 'refused' && hnl.detail).toContain('Pacific/Honolulu (number)')
    // 09:00 HST = 19:00Z
    expect((await contactState('g-tz', 'hnl'))?.next_attempt_at.toISOString()).toBe(
      '2026-06-15T19:00:00.000Z',
    )
    // +1 907 maps to Anchorage AND Adak: open only when both are, i.e. from 09:00 on Adak (HDT) = 18:00Z
    expect(anc.kind === 'refused' && anc.detail).toContain('America/Adak+America/Anchorage (number)')
    expect((await contactState('g-tz', 'anc'))?.next_attempt_at.toISOString()).toBe(
      '2026-06-15T18:00:00.000Z',
    )
    expect(await contactState('g-tz', 'hnl')).toMatchObject({ status: 'pending', attempts: 0 })

    // At their own opening they are dialed (intersection: 18:00Z opens Anchorage+Adak, not Honolulu).
    const later = at('2026-06-15T18:00:00Z')
    expect((await claimCall(tdb.pool, cmd('g-tz', 'anc', '+19075550123'), 'w1', { now: later })).kind).toBe(
      'claimed',
    )
    expect(refusal(await claimCall(tdb.pool, cmd('g-tz', 'hnl', '+18085550122'), 'w1', { now: later }))).toBe(
      'outside_calling_window',
    )
    const evening = at('2026-06-15T19:00:00Z')
    expect((await claimCall(tdb.pool, cmd('g-tz', 'hnl', '+18085550122'), 'w1', { now: evening })).kind).toBe(
      'claimed',
    )
    expect(await callCount('g-tz')).toBe(3)
  })

  it("an explicit contact timezone wins over the number's; the window edge is exact with the injected clock", async () => {
    await campaign('g-edge', { tz: 'America/New_York', windows: NINE_TO_NINE })
    // a New York number whose owner lives in Honolulu
    await contact('g-edge', 'moved', '+12125550131', { timezone: 'Pacific/Honolulu' })
    await contact('g-edge', 'late', '+12125550132')
    const moved = await claimCall(tdb.pool, cmd('g-edge', 'moved', '+12125550131'), 'w1', {
      now: at('2026-06-15T14:00:00Z'),
    })
    expect(moved.kind === 'refused' && moved.detail).toContain('Pacific/Honolulu (contact)')
    // 21:00:00 EDT is closed ([startHour, endHour)), 20:59:59 is open
    const closed = await claimCall(tdb.pool, cmd('g-edge', 'late', '+12125550132'), 'w1', {
      now: at('2026-06-16T01:00:00Z'),
    })
    expect(refusal(closed)).toBe('outside_calling_window')
    expect((await contactState('g-edge', 'late'))?.next_attempt_at.toISOString()).toBe(
      '2026-06-16T13:00:00.000Z',
    )
    const open = await claimCall(tdb.pool, cmd('g-edge', 'late', '+12125550132'), 'w1', {
      now: at('2026-06-16T00:59:59Z'),
    })
    expect(open.kind).toBe('claimed')
  })

  it('a change to the campaign row applies at the next dial: its parse is kept per row text, never stale', async () => {
    // the gate parses a campaign row once per distinct text (campaignFacts, issue #17)
    await campaign('g-edit', { tz: 'America/New_York', windows: NINE_TO_NINE, max: 3 })
    const phone = (id: string) => `+1212555014${id.slice(1)}`
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']) await contact('g-edit', id, phone(id))
    const noon = { now: at('2026-06-15T16:00:00Z') } // 12:00 EDT
    const dial = (id: string, attempts = 0) =>
      claimCall(tdb.pool, cmd('g-edit', id, phone(id), attempts), 'w1', noon)
    const setConfig = (windows: unknown, max = 3) =>
      tdb.pool.query('UPDATE campaigns SET config = $2 WHERE id = $1', [
        'g-edit',
        JSON.stringify(config(windows, max)),
      ])
    expect((await dial('e1')).kind).toBe('claimed')
    await setConfig([{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 13, endHour: 21 }])
    expect(refusal(await dial('e2'))).toBe('outside_calling_window')
    await setConfig([]) // not a GateConfig: refused, the contact released
    expect(await dial('e3')).toMatchObject({ reason: 'campaign_invalid', effect: { kind: 'released' } })
    await setConfig(NINE_TO_NINE)
    await tdb.pool.query(`UPDATE campaigns SET status = 'paused' WHERE id = 'g-edit'`)
    expect(refusal(await dial('e4'))).toBe('campaign_not_active')
    await tdb.pool.query(`UPDATE campaigns SET status = 'active' WHERE id = 'g-edit'`)
    expect((await dial('e4')).kind).toBe('claimed')
    await tdb.pool.query(`UPDATE contacts SET attempts = 1 WHERE campaign_id = 'g-edit' AND id = 'e5'`)
    await setConfig(NINE_TO_NINE, 1)
    expect(refusal(await dial('e5', 1))).toBe('max_attempts')
    await setConfig(NINE_TO_NINE, 3)
    expect((await dial('e6')).kind).toBe('claimed')
  })

  it('a toll-free number spanning zones that never share a window is failed, not dialed', async () => {
    // +1 800 maps to every NANP zone, Guam to Adak: 09:00–12:00 never holds in all of them at once
    await campaign('g-never', {
      tz: 'America/New_York',
      windows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 9, endHour: 12 }],
    })
    await contact('g-never', 'tf', '+18005550141')
    const r = await claimCall(tdb.pool, cmd('g-never', 'tf', '+18005550141'), 'w1', {
      now: at('2026-06-15T16:00:00Z'),
    })
    expect(r).toMatchObject({ kind: 'refused', reason: 'no_common_window' })
    expect(await contactState('g-never', 'tf')).toMatchObject({
      status: 'failed',
      last_outcome: 'no_common_window',
    })
  })

  it('blacklisted: refused, contact failed as before; a redelivery of a claimed attempt is a duplicate', async () => {
    await campaign('g-bl')
    await contact('g-bl', 'b', '+12125550151')
    await contact('g-bl', 'ok', '+12125550152')
    await tdb.pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ('+12125550151', 'x', 'test')`,
    )
    expect(refusal(await claimCall(tdb.pool, cmd('g-bl', 'b', '+12125550151'), 'w1'))).toBe('blacklisted')
    expect(await contactState('g-bl', 'b')).toMatchObject({ status: 'failed', last_outcome: 'blacklisted' })
    expect((await claimCall(tdb.pool, cmd('g-bl', 'ok', '+12125550152'), 'w1')).kind).toBe('claimed')
    expect((await claimCall(tdb.pool, cmd('g-bl', 'ok', '+12125550152'), 'w2')).kind).toBe('duplicate')
    expect(await callCount('g-bl')).toBe(1)
  })

  it('ids that used to collide (gala/2026-17 vs gala-2026/17, ":" inside ids) are both dialed, once each', async () => {
    await campaign('gala')
    await campaign('gala-2026')
    await campaign('a:b')
    await campaign('a')
    await contact('gala', '2026-17', '+12125550161')
    await contact('gala-2026', '17', '+12125550162')
    await contact('a:b', 'c', '+12125550163')
    await contact('a', 'b:c', '+12125550164')
    const cmds = [
      cmd('gala', '2026-17', '+12125550161'),
      cmd('gala-2026', '17', '+12125550162'),
      cmd('a:b', 'c', '+12125550163'),
      cmd('a', 'b:c', '+12125550164'),
    ]
    expect(new Set(cmds.map((c) => c.callId)).size).toBe(4)
    const results = await Promise.all(cmds.map((c) => claimCall(tdb.pool, c, 'w1')))
    expect(results.map((r) => r.kind)).toEqual(['claimed', 'claimed', 'claimed', 'claimed'])
    const again = await Promise.all(cmds.map((c) => claimCall(tdb.pool, c, 'w2')))
    expect(again.map((r) => r.kind)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate'])
  })
})

describe('the dispatcher applies the same callee rule', () => {
  it('of claimed contacts, a Honolulu one waits for its own opening; a New York one is sent', async () => {
    await campaign('d-tz', { tz: 'America/New_York', windows: NINE_TO_NINE })
    await contact('d-tz', 'ny', '+12125550171')
    await contact('d-tz', 'hnl', '+18085550172')
    const claimed = [
      {
        id: 'ny',
        phoneNumber: '+12125550171',
        metadata: {},
        attempts: 0,
        numberTimezones: zonesOfNumber('+12125550171'),
      },
      {
        id: 'hnl',
        phoneNumber: '+18085550172',
        metadata: {},
        attempts: 0,
        numberTimezones: zonesOfNumber('+18085550172'),
      },
    ]
    const out = await holdClosedCallees(tdb.pool, 'd-tz', claimed, {
      now: new Date('2026-06-15T13:30:00Z'),
      windows: NINE_TO_NINE,
      campaignTimezone: 'America/New_York',
    })
    expect(out.send.map((c) => c.id)).toEqual(['ny'])
    expect(out.held).toBe(1)
    expect(await contactState('d-tz', 'hnl')).toMatchObject({ status: 'pending' })
    expect((await contactState('d-tz', 'hnl'))?.next_attempt_at.toISOString()).toBe(
      '2026-06-15T19:00:00.000Z',
    )
    expect(await contactState('d-tz', 'ny')).toMatchObject({ status: 'queued' })
  })
})

/** Counts originations: a dial is what reaches the telephony driver. */
class CountingDriver implements TelephonyDriver {
  readonly name = 'counting'
  readonly started: { callId: string; at: number }[] = []
  private readonly inner = new SimDriver({ speed: 0, answerRate: 1, busyRate: 0 })
  healthy() {
    return true
  }
  originate(request: OriginateRequest) {
    this.started.push({ callId: request.callId, at: performance.now() })
    return this.inner.originate(request)
  }
  close() {
    return this.inner.close()
  }
}

describe('the dial gate behind the real worker and dialer', () => {
  let worker: Worker | undefined
  let driver: CountingDriver
  let url = ''
  afterEach(async () => {
    await worker?.close()
    worker = undefined
  })

  async function startWorker() {
    driver = new CountingDriver()
    worker = createWorker({
      db: tdb.pool,
      driver,
      token: TOKEN,
      workerId: 'w-gate',
      caps: { maxActiveCalls: 500 },
      logger: quiet,
    })
    url = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}`
  }

  async function enriched(
    campaignId: string,
    id: string,
    phone: string,
    attempts = 0,
  ): Promise<EnrichedDialTask> {
    const { rows } = await tdb.pool.query<{
      status: 'active'
      config: EnrichedDialTask['campaign']['config']
      timezone: string
    }>('SELECT status, config, timezone FROM campaigns WHERE id = $1', [campaignId])
    const c = rows[0]!
    return {
      campaignId,
      contactId: id,
      phoneNumber: phone,
      attempts,
      metadata: {},
      campaign: {
        id: campaignId,
        name: campaignId,
        type: 'voice',
        status: 'active',
        config: c.config,
        timezone: c.timezone,
      },
      enrichedAt: new Date().toISOString(),
      messageId: `m-${campaignId}-${id}`,
    }
  }

  function dialer(sleep: (ms: number) => Promise<void>): DialerDeps {
    const prefix = `${redis.prefix}${Math.random().toString(36).slice(2)}:`
    return {
      limiter: {
        admit: async (n: number, limit: number) => ({
          delaysMs: Array.from({ length: n }, () => 0),
          mode: 'redis' as const,
          limit,
        }),
      },
      limitStore: { getLimit: async () => ({ limit: 1000, source: 'default' as const }) },
      worker: createWorkerClient({ url, token: TOKEN, timeoutMs: 5000 }),
      outcomes: createPgOutcomeRecorder(tdb.pool),
      marker: createRedisDialMarker({ redis: redis.redis, prefix }),
      logger: quiet,
      metrics: { addMetric: () => undefined },
      sleep,
    } as unknown as DialerDeps
  }

  async function outcomesOf(campaignId: string) {
    const { rows } = await tdb.pool.query<{ contact_id: string; outcome: string; reason: string | null }>(
      'SELECT contact_id, outcome, reason FROM task_outcomes WHERE campaign_id = $1 ORDER BY contact_id',
      [campaignId],
    )
    return rows
  }

  it('pause during a batch: 0 dials after the pause commits; every task has exactly one outcome', async () => {
    await startWorker()
    await campaign('e-pause')
    const tasks: EnrichedDialTask[] = []
    for (let i = 0; i < 30; i++) {
      const phone = `+1212555${String(2000 + i)}`
      await contact('e-pause', `p${String(i).padStart(2, '0')}`, phone)
      tasks.push(await enriched('e-pause', `p${String(i).padStart(2, '0')}`, phone))
    }
    let pausedAt = Infinity
    let n = 0
    // The slot wait of the 11th task is where the operator pauses: it commits before that task dials.
    const sleep = async () => {
      if (++n === 11) {
        await tdb.pool.query(`UPDATE campaigns SET status = 'paused' WHERE id = 'e-pause'`)
        pausedAt = performance.now()
      }
    }
    const res = await handleDialBatch(dialer(sleep), tasks)
    expect(res.batchItemFailures).toEqual([])
    const afterPause = driver.started.filter((s) => s.at > pausedAt)
    expect(afterPause).toHaveLength(0)
    const outcomes = await outcomesOf('e-pause')
    expect(outcomes).toHaveLength(30)
    const dialed = outcomes.filter((o) => o.outcome === 'dialed')
    const refused = outcomes.filter((o) => o.reason?.startsWith('campaign_not_active'))
    expect(dialed.length + refused.length).toBe(30)
    expect(dialed.length).toBe(driver.started.length)
    expect(refused.length).toBeGreaterThanOrEqual(20)
    const { rows } = await tdb.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM contacts WHERE campaign_id = 'e-pause' AND status = 'pending' AND attempts = 0`,
    )
    expect(Number(rows[0]!.n)).toBe(refused.length)
  })

  it('window closing during the slot wait (real clock): 0 dials after the close, contacts rescheduled', async () => {
    await startWorker()
    await campaign('e-close')
    const tasks: EnrichedDialTask[] = []
    for (let i = 0; i < 5; i++) {
      const phone = `+1212555${String(3000 + i)}`
      await contact('e-close', `w${i}`, phone)
      tasks.push(await enriched('e-close', `w${i}`, phone))
    }
    // Enrich saw the window open; during the slot wait it closes: a window that excludes today.
    const now = new Date()
    const otherDays = [0, 1, 2, 3, 4, 5, 6].filter(
      (d) => d !== now.getUTCDay() && d !== (now.getUTCDay() + 6) % 7,
    )
    const sleep = async () => {
      await tdb.pool.query(
        `UPDATE campaigns SET config = jsonb_set(config, '{callingWindows}', $1::jsonb) WHERE id = 'e-close'`,
        [JSON.stringify([{ dayOfWeek: otherDays, startHour: 0, endHour: 24 }])],
      )
    }
    const res = await handleDialBatch(dialer(sleep), tasks)
    expect(res.batchItemFailures).toEqual([])
    expect(driver.started).toHaveLength(0)
    const outcomes = await outcomesOf('e-close')
    expect(outcomes.map((o) => [o.outcome, o.reason?.split(':')[0]])).toEqual(
      Array.from({ length: 5 }, () => ['dropped', 'outside_calling_window']),
    )
    const { rows } = await tdb.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM contacts WHERE campaign_id = 'e-close' AND status = 'pending' AND next_attempt_at > now()`,
    )
    expect(Number(rows[0]!.n)).toBe(5)
  })

  it('attempts overflow and a NUL byte are refused at the boundary; the other tasks of the batch are dialed', async () => {
    await startWorker()
    await campaign('e-bad')
    const tasks: unknown[] = []
    for (let i = 0; i < 4; i++) {
      const phone = `+1212555${String(4000 + i)}`
      await contact('e-bad', `ok${i}`, phone)
      tasks.push(await enriched('e-bad', `ok${i}`, phone))
    }
    const overflow = { ...(await enriched('e-bad', 'big', '+12125554010')), attempts: 2147483647 }
    const nul = { ...(await enriched('e-bad', 'n\u0000ul', '+12125554011')), messageId: 'm-nul' }
    tasks.splice(1, 0, overflow)
    tasks.splice(3, 0, nul)
    const res = await handleDialBatch(
      dialer(async () => {}),
      tasks,
    )
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-e-bad-big', 'm-nul'])
    expect(driver.started).toHaveLength(4)
    const outcomes = (
      await tdb.pool.query<{ outcome: string; reason: string | null }>(
        'SELECT outcome, reason FROM task_outcomes WHERE message_id = ANY($1)',
        [tasks.map((t) => (t as { messageId: string }).messageId)],
      )
    ).rows
    expect(outcomes).toHaveLength(6)
    expect(outcomes.filter((o) => o.outcome === 'dialed')).toHaveLength(4)
    const failed = outcomes.filter((o) => o.outcome === 'failed').map((o) => o.reason)
    expect(failed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^invalid task: .*attempts: /),
        expect.stringMatching(/^invalid task: .*contactId: must not contain control characters/),
      ]),
    )
  })

  it('a redelivered and a forged task in one batch: the gate refuses, the dialer records it and does not retry', async () => {
    await startWorker()
    await campaign('e-forge')
    await contact('e-forge', 'f1', '+12125555001', { status: 'done', attempts: 1 })
    const forged = await enriched('e-forge', 'f1', '+12125555001', 1)
    const res = await handleDialBatch(
      dialer(async () => {}),
      [forged],
    )
    expect(res.batchItemFailures).toEqual([])
    expect(driver.started).toHaveLength(0)
    expect(await outcomesOf('e-forge')).toEqual([
      { contact_id: 'f1', outcome: 'dropped', reason: 'contact_not_dialable: contact is done' },
    ])
    expect(dialCommandFor(forged).callId).toBe('call.e-forge.f1.1')
  })
})

describe('a stored time zone the runtime does not know', () => {
  it('is a refusal with its reason (zone_invalid, contact failed), never a throw', async () => {
    // found by an adversarial review: the gate threw, the worker answered 503, the task went to the DLQ
    await campaign('gate-badzone')
    await contact('gate-badzone', 'bz', '+12125550177', { timezone: 'Not/AZone' })
    const result = await claimCall(tdb.pool, cmd('gate-badzone', 'bz', '+12125550177'), 'w-badzone')
    expect(result).toMatchObject({ kind: 'refused', reason: 'zone_invalid' })
    expect(await contactState('gate-badzone', 'bz')).toMatchObject({
      status: 'failed',
      last_outcome: 'zone_invalid',
    })
  })
})
