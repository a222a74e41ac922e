import { describe, expect, it } from 'vitest'
import { parseInterval, sparkline, useColor } from '../../src/cli/render.js'
import { autoStep, initialState } from '../../src/control/auto.js'
import { parseContactsCsv } from '../../src/control/contacts-import.js'
import { diagnose, type Observations } from '../../src/control/doctor.js'
import { summarizeQueueBody } from '../../src/control/dlq-summary.js'
import { pipeHealth } from '../../src/control/health.js'
import { statusHealth } from '../../src/control/status-health.js'
import { loadTask, LoadTestSummary, percentileOf, summarize } from '../../src/control/load-test.js'
import type { AuditEntry, CampaignSummary, ControlPlane, PipeDescription } from '../../src/control/port.js'
import { isReservedTestNumber, TEST_NUMBER_COUNT, testNumber } from '../../src/tasks/test-numbers.js'
import { DEFAULT_PACING_POLICY } from '../../src/pacing/policy.js'

const running: PipeDescription = {
  name: 'p',
  state: 'RUNNING',
  desiredState: 'RUNNING',
  source: 'arn:aws:sqs:eu-west-1:1:q',
  target: 'arn:aws:lambda:eu-west-1:1:function:dialer',
}
const emptyQueue = { visible: 0, inFlight: 0, oldestAgeSeconds: 0 }
const pacing = (share: number, degraded = false) => ({
  limit: { limit: 100, source: 'redis' as const, defaultLimit: 100 },
  cpsNow: 90,
  last60: [],
  rateLimitedShare: share,
  degraded,
})
/** `seconds` of demand in the last 60 s, each admitting `admitted` and deferring `deferred`, at `limit` */
const busy = (limit: number, admitted: number, deferred: number, seconds = 60) => {
  const last60 = Array.from({ length: 60 }, (_, i) =>
    i < 60 - seconds
      ? { second: i, admitted: 0, rateLimited: 0 }
      : { second: i, admitted, rateLimited: deferred },
  )
  return {
    limit: { limit, source: 'redis' as const, defaultLimit: 100 },
    cpsNow: admitted,
    last60,
    rateLimitedShare: deferred / (admitted + deferred),
    degraded: false,
  }
}
const auditEntry = (at: Date, minutesAgo: number, oldLimit: number | null, newLimit: number): AuditEntry => ({
  at: new Date(at.getTime() - minutesAgo * 60_000).toISOString(),
  actor: 'ops@host',
  source: 'cli',
  oldLimit,
  newLimit,
  reason: 'carrier asked',
})
const campaign = (id: string, status = 'active') => ({ campaignId: id, status }) as CampaignSummary

function observations(over: Partial<Observations> = {}): Observations {
  return {
    stage: 'prod',
    kind: 'aws',
    reach: { postgres: true, redis: true },
    pipe: running,
    pipeMetrics: { windowMinutes: 5, executions: 100, failures: 0 },
    queue: emptyQueue,
    dlq: emptyQueue,
    pacing: pacing(0),
    campaigns: [campaign('c1')],
    media: [],
    audio: [],
    outcomes: [],
    alarms: [],
    ...over,
  }
}
const check = (o: Observations, id: string) => diagnose(o).checks.find((c) => c.id === id)

describe('status and doctor: unknown is not green (docs/health.md "stores down / worker GET /health fails")', () => {
  const down = new Error('connect ECONNREFUSED')
  it.each([
    {
      name: 'worker GET /health fails',
      over: { kind: 'local' as const, reach: { postgres: true, redis: true, worker: false } },
      says: /worker GET \/health.*dialctl dev/,
      check: 'worker',
    },
    {
      name: 'PostgreSQL down',
      over: { reach: { postgres: false, redis: true } },
      says: /PostgreSQL: does not answer/,
      check: 'postgres',
    },
    {
      name: 'Redis down',
      over: { reach: { postgres: true, redis: false } },
      says: /Redis: does not answer/,
      check: 'redis',
    },
    {
      name: 'ping fails',
      over: { reach: down },
      says: /PostgreSQL and Redis: connect ECONNREFUSED/,
      check: 'stores',
    },
    { name: 'DLQ unreadable', over: { dlq: down }, says: /DLQ: unreadable.*dialctl dlq list/, check: 'dlq' },
    { name: 'alarms unreadable', over: { alarms: down }, says: /alarms: unreadable/, check: 'alarms' },
    {
      name: 'campaigns unreadable',
      over: { campaigns: down },
      says: /campaigns: unreadable.*dialctl campaign list/,
      check: 'campaigns',
    },
    {
      name: 'outcomes unreadable',
      over: { outcomes: down },
      says: /outcomes: unreadable/,
      check: 'enrichment',
    },
  ])('$name → status red and doctor fails', ({ over, says, check: id }) => {
    const o = observations(over)
    const { problems } = statusHealth(o)
    expect(problems.join('; ')).toMatch(says)
    expect(check(o, id)?.status).toBe('fail')
    expect(diagnose(o).healthy).toBe(false)
  })
  it('CPS near the limit is a warning; any other alarm is red', () => {
    const cps = { name: 'dialctl-prod-CpsNearLimit', state: 'ALARM' }
    const dlq = { name: 'dialctl-prod-DlqNotEmpty', state: 'ALARM' }
    expect(statusHealth(observations({ alarms: [cps] })).problems).toEqual([])
    expect(check(observations({ alarms: [cps] }), 'alarms')?.status).toBe('warn')
    expect(statusHealth(observations({ alarms: [cps, dlq] })).problems).toEqual([
      '1 alarm(s) in ALARM (dialctl doctor)',
    ])
    expect(check(observations({ alarms: [cps, dlq] }), 'alarms')?.status).toBe('fail')
  })
  it('all readable and up → status green', () => {
    expect(statusHealth(observations())).toEqual({ problems: [], warnings: [] })
  })
})

describe('doctor: the seed troubleshooting guide as checks', () => {
  it('all green → healthy', () => {
    const report = diagnose(observations())
    expect(report.healthy).toBe(true)
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([])
  })

  it('messages stuck, pipe disabled → pipe start', () => {
    const c = check(
      observations({ pipe: { ...running, state: 'STOPPED', desiredState: 'STOPPED' } }),
      'pipe-state',
    )
    expect(c).toMatchObject({ status: 'fail', cause: 'the pipe was stopped (disabled)' })
    expect(c!.fix).toBe('dialctl pipe start --wait --stage prod')
  })

  it('messages stuck, permissions → redeploy the pipe role', () => {
    const c = check(
      observations({
        pipe: { ...running, state: 'START_FAILED', stateReason: 'AccessDenied on sqs:ReceiveMessage' },
      }),
      'pipe-state',
    )
    expect(c!.cause).toMatch(/role lacks a permission/)
    expect(c!.fix).toMatch(/sst deploy --stage prod/)
  })

  it('messages stuck, consumer errors: failed executions above 5% and an old queue', () => {
    const o = observations({
      pipeMetrics: { windowMinutes: 5, executions: 100, failures: 6 },
      queue: { visible: 500, inFlight: 0, oldestAgeSeconds: 900 },
    })
    expect(check(o, 'pipe-failures')).toMatchObject({ status: 'fail' })
    expect(check(o, 'pipe-failures')!.fix).toMatch(/aws logs tail/)
    expect(check(o, 'queue-age')).toMatchObject({ status: 'fail' })
    expect(
      check(
        observations({ pipeMetrics: { windowMinutes: 5, executions: 100, failures: 5 } }),
        'pipe-failures',
      )!.status,
    ).toBe('ok')
  })

  it('rate limiting: a backlog paced at the limit is ok; a fresh cut warns naming the cut, not the campaigns (verdicts.test.ts has the table)', () => {
    const at = new Date('2026-01-05T12:00:00Z')
    // 60 s at the limit of 100, 35 % deferred: healthy, with the campaigns sharing named in the detail
    const paced = check(
      observations({
        pacing: busy(100, 100, 54),
        campaigns: [campaign('a'), campaign('b'), campaign('c', 'paused')],
        at,
      }),
      'rate-limiting',
    )
    expect(paced).toMatchObject({ status: 'ok' })
    expect(paced!.detail).toMatch(
      /^35\.1% of 9240 dial attempts deferred \(last 60 s\), 6000 admitted; limit 100 cps \(redis\), shared by 2 active campaigns: demand above the limit/,
    )
    expect(diagnose(observations({ pacing: busy(100, 100, 54), at })).healthy).toBe(true)
    // the issue's case: cut from 50 to 2 a minute ago, two campaigns active → the cut is the cause
    const cut = check(
      observations({
        pacing: busy(2, 2, 8),
        campaigns: [campaign('a'), campaign('b')],
        audit: [auditEntry(at, 1, 50, 2), auditEntry(at, 30, 10, 50)],
        at,
      }),
      'rate-limiting',
    )
    expect(cut).toMatchObject({
      status: 'warn',
      cause:
        'the limit was cut from 50 to 2 cps at 2026-01-05T11:59:00.000Z by ops@host (cli: carrier asked)',
    })
    expect(cut!.fix).toMatch(/^dialctl cps history; if the cut is no longer needed: dialctl cps set 50/)
  })

  it('a held limit: doctor and status promise the pacer only where one runs (AWS), never on the local stack', () => {
    const at = new Date('2026-01-05T12:00:00Z')
    const held = {
      ...busy(5, 5, 40),
      control: {
        mode: 'held' as const,
        heldBy: 'ops@host',
        lastChange: {
          at: new Date(at.getTime() - 60_000).toISOString(),
          actor: 'ops@host',
          source: 'cli',
          reason: 'x',
        },
      },
    }
    const local = check(observations({ kind: 'local', pacing: held, at }), 'rate-limiting')!
    expect(local.status).toBe('warn')
    expect(local.cause).toMatch(
      /held at 5 cps by ops@host: only an operator changes it \(the local stack runs no pacer\)$/,
    )
    expect(local.fix).toMatch(
      /^dialctl cps set N --reason "…" \(ending the hold with dialctl cps auto --resume changes nothing here: no pacer runs locally/,
    )
    expect(local.fix).not.toMatch(/steers again/)
    expect(statusHealth(observations({ kind: 'local', pacing: held, at })).warnings).toContain(local.cause)
    const aws = check(observations({ kind: 'aws', pacing: held, at }), 'rate-limiting')!
    expect(aws.fix).toMatch(/^dialctl cps auto --resume --reason "…" \(the adaptive pacer steers again\)/)
    expect(aws.cause).toMatch(/the adaptive pacer cannot raise it$/)
  })

  it('the DLQ: growing fails, old dead letters warn; the title says what it holds', () => {
    const dlq = { visible: 96, inFlight: 0, oldestAgeSeconds: 42 }
    const moved = { stage: 'queue', outcome: 'dlq', reason: 'received 3 times', campaignId: 'c1', count: 4 }
    const growing = check(observations({ kind: 'local', dlq, outcomes: [moved] }), 'dlq')
    expect(growing).toMatchObject({
      status: 'fail',
      title: 'Dead-letter queue holds 96 messages',
      detail: '96 tasks, 4 moved there in the last 15 min',
      fix: 'dialctl dlq list; after fixing the cause: dialctl dlq redrive --wait',
    })
    // first sent 42 s ago: it moved within the window even though no outcome says so
    expect(check(observations({ kind: 'local', dlq }), 'dlq')).toMatchObject({
      status: 'fail',
      detail: '96 tasks; the oldest was first sent 42 s ago (within 15 min)',
    })
    expect(
      check(observations({ kind: 'local', dlq: { ...dlq, oldestAgeSeconds: 1800 } }), 'dlq'),
    ).toMatchObject({
      status: 'warn',
      detail: '96 tasks, none new in the last 15 min; the oldest was first sent 1800 s ago',
    })
    expect(check(observations(), 'dlq')!.title).toBe('Dead-letter queue empty')
  })

  it('a campaign whose contacts are all finished is reported, with both ways on', () => {
    const finished = {
      ...campaign('demo'),
      allContactsFinished: true,
      contacts: { total: 30, pending: 0, queued: 0, dialing: 0, done: 28, failed: 2 },
    } as CampaignSummary
    const c = check(observations({ campaigns: [finished, campaign('other')] }), 'campaigns-finished')
    expect(c).toMatchObject({
      status: 'warn',
      detail: 'demo (active, 28 done, 2 failed)',
      fix: 'import more (dialctl contacts import --campaign demo FILE) or close it (dialctl campaign complete demo)',
    })
    expect(check(observations(), 'campaigns-finished')).toBeUndefined()
  })

  it('degraded pacing and unreachable stores fail with the fix', () => {
    expect(check(observations({ pacing: pacing(0, true) }), 'degraded')!.status).toBe('fail')
    const o = observations({ reach: { postgres: false, redis: true } })
    expect(check(o, 'postgres')).toMatchObject({ status: 'fail', issue: 'enrichment-failures' })
  })

  it('enrichment failures: campaign not found names the campaigns', () => {
    const c = check(
      observations({
        outcomes: [
          {
            stage: 'enrich',
            outcome: 'dropped',
            reason: 'campaign_not_found',
            campaignId: 'ghost',
            count: 40,
          },
          { stage: 'enrich', outcome: 'dropped', reason: 'campaign_paused', campaignId: 'c1', count: 10 },
          { stage: 'dialer', outcome: 'dialed', reason: null, campaignId: 'c1', count: 500 },
        ],
      }),
      'enrichment',
    )
    expect(c).toMatchObject({ status: 'fail' })
    expect(c!.cause).toContain('ghost')
    expect(c!.fix).toMatch(/dialctl campaign list/)
  })

  it('a read that failed is a failed check, not a crash; alarms in ALARM fail', () => {
    const report = diagnose(
      observations({
        pipe: new Error('User is not authorized to perform pipes:DescribePipe'),
        alarms: [{ name: 'a1', state: 'ALARM' }],
      }),
    )
    expect(report.healthy).toBe(false)
    expect(report.checks.find((c) => c.id === 'pipe-state')!.cause).toMatch(/credentials/)
    expect(report.checks.find((c) => c.id === 'alarms')!.status).toBe('fail')
  })
})

describe('pipe health', () => {
  it('running with messages waiting too long is unhealthy; a DLQ is only a warning', () => {
    expect(
      pipeHealth(running, undefined, { visible: 3, inFlight: 0, oldestAgeSeconds: 301 }, undefined).healthy,
    ).toBe(false)
    const h = pipeHealth(running, undefined, emptyQueue, { visible: 2, inFlight: 0, oldestAgeSeconds: 10 })
    expect(h).toEqual({ healthy: true, problems: [], warnings: ['2 messages in the DLQ (dialctl dlq list)'] })
  })
})

describe('contacts CSV', () => {
  it('splits quoted fields', () => {
    // was splitCsvLine (hand-written, replaced by csv-parse in #15): same expectation, through the parser
    expect(parseContactsCsv('phone,a,b,c\n+442079460001,a,"b, c","d ""q"""').rows[0]!.metadata).toEqual({
      a: 'a',
      b: 'b, c',
      c: 'd "q"',
    })
  })
  it('reports line numbers (header = 1, blank lines counted) and takes phone/id column aliases', () => {
    const { rows, invalid } = parseContactsCsv(
      'phoneNumber,name\n+442079460001,A\n\nnot-a-number,B\n+442079460002,C\n',
    )
    expect(rows.map((r) => [r.line, r.id, r.metadata])).toEqual([
      [2, 'c-442079460001', { name: 'A' }],
      [5, 'c-442079460002', { name: 'C' }],
    ])
    expect(invalid).toEqual([
      { line: 4, field: 'phoneNumber', message: expect.stringContaining('not a valid E.164') },
    ])
  })
  it('a file without a phone column is one error on line 1', () => {
    expect(parseContactsCsv('id,name\n1,a').invalid).toEqual([
      { line: 1, field: 'header', message: expect.stringContaining('no phone column') },
    ])
  })
})

describe('load test', () => {
  it('uses only reserved test numbers, all valid E.164', () => {
    for (let i = 0; i < TEST_NUMBER_COUNT; i += 97) expect(isReservedTestNumber(testNumber(i))).toBe(true)
    expect(isReservedTestNumber('+972501234567')).toBe(false)
    expect(isReservedTestNumber('+442079461000')).toBe(false)
    const task = loadTask({ runId: 'r1', campaignId: 'load-test' }, 12)
    expect(task).toEqual({
      campaignId: 'load-test',
      contactId: 'lt-r1-12',
      phoneNumber: testNumber(12),
      metadata: { loadTest: 'r1' },
      attempts: 0,
    })
    // A later run continues after the numbers the campaign already holds (each number once per campaign).
    expect(loadTask({ runId: 'r2', campaignId: 'load-test', firstNumber: 40 }, 0).phoneNumber).toBe(
      testNumber(40),
    )
  })

  it('summary: achieved CPS over the dial span, nearest-rank percentiles', () => {
    expect(percentileOf([5, 1, 3, 2, 4], 50)).toBe(3)
    expect(
      percentileOf(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99)
    expect(percentileOf([], 50)).toBeNull()
    const s = summarize(
      { runId: 'r', campaignId: 'c', count: 100, concurrency: 8 },
      { sent: 100, failed: [], sentAt: new Map(), startedAt: 0, finishedAt: 2000 },
      {
        dialed: 100,
        rateLimited: 30,
        deferred: 46,
        failed: 0,
        dropped: 0,
        dlq: 0,
        notDialed: [],
        sendToDialMs: [100, 200],
        firstDialAt: '2026-01-01T00:00:00.000Z',
        lastDialAt: '2026-01-01T00:00:04.000Z',
      },
      { dlqGrowth: 0, limit: 25 },
    )
    expect(s).toMatchObject({
      // deferrals (no receive spent) and limiter retries (a receive spent) are counted apart
      deferred: 46,
      retried: 30,
      achievedCps: 25,
      sendSeconds: 2,
      complete: true,
      waiting: 0,
      sendToDialMs: { p50: 100, p99: 200 },
      notDialed: [],
    })
  })

  it('summary: tasks not dialed, one row per place and reason, most first, the DLQ and send failures included', () => {
    const s = summarize(
      { runId: 'r', campaignId: 'c', count: 100, concurrency: 8 },
      {
        sent: 98,
        failed: [
          { id: '1', code: 'InvalidParameterValue', message: 'x' },
          { id: '2', code: 'InvalidParameterValue', message: 'y' },
        ],
        sentAt: new Map(),
        startedAt: 0,
        finishedAt: 2000,
      },
      {
        dialed: 88,
        rateLimited: 0,
        deferred: 0,
        failed: 1,
        dropped: 7,
        dlq: 1,
        notDialed: [
          { stage: 'enrich', outcome: 'dropped', reason: 'outside_calling_window', count: 4 },
          { stage: 'dialer', outcome: 'dropped', reason: 'blacklisted', count: 3 },
          { stage: 'queue', outcome: 'dlq', reason: null, count: 1 },
        ],
        sendToDialMs: [],
        firstDialAt: null,
        lastDialAt: null,
      },
      { dlqGrowth: 3, limit: 25 },
    )
    expect(s.notDialed).toEqual([
      { where: 'enrich', reason: 'outside_calling_window', count: 4 },
      { where: 'dial gate', reason: 'blacklisted', count: 3 },
      // the DLQ grew by 3 while 1 was recorded: on AWS, SQS moves tasks unrecorded
      { where: 'queue', reason: 'dlq (failed every receive)', count: 3 },
      { where: 'send', reason: 'InvalidParameterValue', count: 2 },
    ])
    // 98 sent: 88 dialed, 7 dropped, 3 in the DLQ (the growth) — none waiting; each of the 100 requested in one column
    expect(s).toMatchObject({ waiting: 0, complete: true })
    expect(s.dialed + s.waiting + s.notDialed.reduce((n, r) => n + r.count, 0)).toBe(s.requested)
    expect(LoadTestSummary.parse(s)).toEqual(s)
  })
})

describe('cli rendering', () => {
  it('sparkline scales to the limit; zero is a dot', () => {
    expect(sparkline([0, 50, 100, 200], 100)).toBe('·▄██')
  })
  it('parses intervals', () => {
    expect([parseInterval('30s'), parseInterval('2m'), parseInterval('500ms'), parseInterval('5')]).toEqual([
      30_000, 120_000, 500, 5000,
    ])
    expect(() => parseInterval('soon')).toThrow(/30s/)
  })
  it('no colour with NO_COLOR, even on a TTY', () => {
    const saved = process.env.NO_COLOR
    process.env.NO_COLOR = '1'
    expect(useColor({ isTTY: true } as NodeJS.WriteStream)).toBe(false)
    delete process.env.NO_COLOR
    expect(useColor({ isTTY: false } as NodeJS.WriteStream)).toBe(false)
    if (saved !== undefined) process.env.NO_COLOR = saved
  })
  it('summarises DLQ bodies with the phone masked', () => {
    expect(
      summarizeQueueBody('{"campaignId":"c","contactId":"k","phoneNumber":"+972501234567","attempts":3}'),
    ).toEqual({
      campaignId: 'c',
      contactId: 'k',
      phone: '+**********67',
      attempts: 3,
    })
    expect(summarizeQueueBody('oops +972501234567')).toEqual({ bodySummary: 'oops +**********67' })
  })
})

describe('cps auto step (controller from src/pacing, applied through the port)', () => {
  function fakePlane(cpu: number | null, limit: number, history: AuditEntry[] = [], heldBy?: string) {
    const sets: { limit: number; reason: string; source?: string; options?: unknown }[] = []
    const plane = {
      stage: 'local',
      kind: 'local',
      controllerInputs: async () => ({ cpuPercent: cpu, answerRate: null, sample: 0, at: '' }),
      pacing: async () => ({
        ...pacing(0),
        limit: { limit, source: 'redis', defaultLimit: 100 },
        control: heldBy ? { mode: 'held', heldBy, lastChange: null } : { mode: 'auto', lastChange: null },
      }),
      setLimit: async (l: number, reason: string, _actor: string, source?: string, options?: unknown) => {
        sets.push({ limit: l, reason, source, ...(options ? { options } : {}) })
        return {} as AuditEntry
      },
      limitHistory: async () => history,
    } as unknown as ControlPlane
    return { plane, sets }
  }

  it('CPU 90% cuts to 25 in one step, audited as source auto', async () => {
    const { plane, sets } = fakePlane(90, 100)
    const { step } = await autoStep(plane, DEFAULT_PACING_POLICY, await initialState(plane), {
      dryRun: false,
      actor: 'a',
      now: () => 1_000_000,
    })
    expect(step).toMatchObject({ action: 'cut', limit: 25, applied: true })
    expect(sets).toEqual([
      { limit: 25, reason: step.reason, source: 'auto', options: { respectHold: { safety: true } } },
    ])
  })

  it('a manual hold keeps the pacer from raising or cutting; only a CPU-critical cut goes through (#12)', async () => {
    const raise = fakePlane(40, 50, [], 'alice')
    const r = await autoStep(raise.plane, DEFAULT_PACING_POLICY, await initialState(raise.plane), {
      dryRun: false,
      actor: 'pacer',
      now: () => 1_000_000,
    })
    expect(r.step).toMatchObject({ action: 'raise', applied: false, heldBy: 'alice' })
    expect(r.step.reason).toMatch(/^held by alice: not applied \(raise 50 → 100/)
    expect(raise.sets).toEqual([])
    expect(r.state.lastChangeAt).toBeNull()

    const cut = fakePlane(75, 100, [], 'alice')
    const c = await autoStep(cut.plane, DEFAULT_PACING_POLICY, await initialState(cut.plane), {
      dryRun: false,
      actor: 'pacer',
      now: () => 1_000_000,
    })
    expect(c.step).toMatchObject({ action: 'cut', limit: 50, applied: false })
    expect(cut.sets).toEqual([])

    const critical = fakePlane(92, 50, [], 'alice')
    const k = await autoStep(critical.plane, DEFAULT_PACING_POLICY, await initialState(critical.plane), {
      dryRun: false,
      actor: 'pacer',
      now: () => 1_000_000,
    })
    expect(k.step).toMatchObject({ action: 'cut', limit: 25, applied: true, heldBy: 'alice' })
    expect(critical.sets).toEqual([
      { limit: 25, reason: k.step.reason, source: 'auto', options: { respectHold: { safety: true } } },
    ])
  })

  it('dry run decides without applying and starts no cooldown', async () => {
    const { plane, sets } = fakePlane(90, 100)
    const state = await initialState(plane)
    const next = await autoStep(plane, DEFAULT_PACING_POLICY, state, {
      dryRun: true,
      actor: 'a',
      now: () => 1_000_000,
    })
    expect(next.step).toMatchObject({ action: 'cut', applied: false })
    expect(sets).toEqual([])
    expect(next.state.lastChangeAt).toBeNull()
  })

  it('the cooldown starts from the last change in the audit trail (cron-run --once keeps it)', async () => {
    const at = new Date(1_000_000).toISOString()
    const { plane, sets } = fakePlane(40, 25, [
      { at, actor: 'x', source: 'auto', oldLimit: 100, newLimit: 25, reason: 'r' },
    ])
    const { step } = await autoStep(plane, DEFAULT_PACING_POLICY, await initialState(plane), {
      dryRun: false,
      actor: 'a',
      now: () => 1_000_000 + 30_000,
    })
    expect(step.action).toBe('hold')
    expect(step.reason).toMatch(/cooldown/)
    expect(sets).toEqual([])
  })

  it('under a manual hold, a raise waiting for its cooldown says the hold keeps it, not that it comes', async () => {
    // Found as a README user: right after `cps set 25`, `cps auto --once --dry-run` printed
    // "hold 25 (raise to 100 in 118 s, cooldown)", a raise the hold would never allow.
    const at = new Date(1_000_000).toISOString()
    const { plane, sets } = fakePlane(
      5,
      25,
      [{ at, actor: 'alice', source: 'cli', oldLimit: null, newLimit: 25, reason: 'carrier' }],
      'alice',
    )
    const { step } = await autoStep(plane, DEFAULT_PACING_POLICY, await initialState(plane), {
      dryRun: true,
      actor: 'a',
      now: () => 1_000_000 + 2_000,
    })
    expect(step).toMatchObject({ action: 'hold', limit: 25, applied: false, heldBy: 'alice' })
    expect(step.reason).toMatch(/^held by alice: not applied \(hold 25 \(raise to 100 in \d+ s, cooldown\)/)
    expect(sets).toEqual([])
  })
})

describe('doctor: campaign audio and the media guard', () => {
  const media = (over: Record<string, unknown> = {}) => ({
    campaignId: 'c1',
    status: 'active',
    audioUrls: ['https://media.example.org/x.mp3'],
    windowMinutes: 15,
    pickedUp: 0,
    mediaFailures: 0,
    guardPause: null,
    ...over,
  })
  const mp3 = {
    url: 'https://media.example.org/x.mp3',
    status: 'fail' as const,
    findings: [
      { level: 'fail' as const, problem: 'mp3: a default Asterisk cannot play it', fix: 'convert it' },
    ],
  }

  it('an active campaign whose audio cannot play fails, naming the campaign, URL and fix', () => {
    const c = check(observations({ media: [media()], audio: [mp3] }), 'campaign-audio')!
    expect(c.status).toBe('fail')
    expect(c.detail).toContain('c1 (active)')
    expect(c.detail).toContain('x.mp3: mp3: a default Asterisk cannot play it — convert it')
    expect(c.fix).toMatch(/8 kHz mono WAV/)
    // paused: a warning (nobody is being called with it now)
    expect(
      check(observations({ media: [media({ status: 'paused' })], audio: [mp3] }), 'campaign-audio')!.status,
    ).toBe('warn')
    // a test campaign (reserved fictional numbers: nobody hears it): a warning that says so
    const test = check(observations({ media: [media({ isTest: true })], audio: [mp3] }), 'campaign-audio')!
    expect(test.status).toBe('warn')
    expect(test.cause).toMatch(/test campaign: nobody hears it/)
    // ...but not when a real campaign beside it is broken too
    expect(
      check(
        observations({ media: [media({ isTest: true }), media({ campaignId: 'c2' })], audio: [mp3] }),
        'campaign-audio',
      )!.status,
    ).toBe('fail')
    expect(
      check(
        observations({ media: [media()], audio: [{ ...mp3, status: 'ok', findings: [] }] }),
        'campaign-audio',
      )!.status,
    ).toBe('ok')
  })

  it('a campaign paused by the media guard fails with the resume command; media failures warn', () => {
    const paused = check(
      observations({
        media: [
          media({
            status: 'paused',
            mediaFailures: 6,
            pickedUp: 8,
            guardPause: {
              at: '2026-11-30T21:00:00.000Z',
              reason: 'audio failed on 6 of 8 calls picked up in 15 min',
            },
          }),
        ],
        audio: [],
      }),
      'media-failures',
    )!
    expect(paused.status).toBe('fail')
    expect(paused.detail).toContain('c1 paused by the media guard')
    expect(paused.fix).toContain('dialctl campaign resume c1')
    const flagged = check(
      observations({ media: [media({ mediaFailures: 2, pickedUp: 10 })] }),
      'media-failures',
    )!
    expect(flagged.status).toBe('warn')
    expect(flagged.detail).toContain('audio failed on 2 of 10 calls picked up')
    expect(check(observations(), 'media-failures')!.status).toBe('ok')
  })

  it('resumed after a guard pause: no longer reported as paused', () => {
    const c = check(
      observations({ media: [media({ guardPause: { at: '2026-11-30T21:00:00.000Z', reason: 'x' } })] }),
      'media-failures',
    )!
    expect(c.status).toBe('ok')
  })
})
