import { describe, expect, it } from 'vitest'
import type { AuditEntry, PacingControlInfo, PacingSnapshot } from '../../src/control/port.js'
import {
  judgeDlq,
  judgeRateLimiting,
  judgeWorker,
  limitDecision,
  WORKER_REFUSING_MIN,
} from '../../src/control/verdicts.js'

const NOW = new Date('2026-01-05T12:00:00Z')

/** 60 s of pacing: the last `seconds` each admitting `admitted` and deferring `deferred` */
function pacing(
  limit: number,
  admitted: number,
  deferred: number,
  options: { seconds?: number; control?: PacingControlInfo; degraded?: boolean } = {},
): PacingSnapshot {
  const seconds = options.seconds ?? 60
  const last60 = Array.from({ length: 60 }, (_, i) =>
    i < 60 - seconds
      ? { second: i, admitted: 0, rateLimited: 0 }
      : { second: i, admitted, rateLimited: deferred },
  )
  const total = (admitted + deferred) * seconds
  return {
    limit: { limit, source: 'redis', defaultLimit: 5 },
    ...(options.control ? { control: options.control } : {}),
    cpsNow: admitted,
    last60,
    rateLimitedShare: total === 0 ? 0 : (deferred * seconds) / total,
    degraded: options.degraded ?? false,
  }
}
const cut = (minutesAgo: number, oldLimit: number | null, newLimit: number): AuditEntry => ({
  at: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
  actor: 'ops@host',
  source: 'cli',
  oldLimit,
  newLimit,
  reason: 'carrier asked',
})
const held = (minutesAgo: number): PacingControlInfo => ({
  mode: 'held',
  heldBy: 'ops@host',
  holdReason: 'trunk maintenance',
  lastChange: {
    at: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
    actor: 'ops@host',
    source: 'cli',
    reason: 'trunk maintenance',
  },
})

describe('rate limiting verdict (deferral is not failure; docs/operations.md "Health")', () => {
  const cases: {
    name: string
    pacing: PacingSnapshot
    audit?: AuditEntry[]
    active?: string[]
    status: 'ok' | 'warn' | 'fail'
    rule: string
    cause?: RegExp
  }[] = [
    { name: 'idle', pacing: pacing(5, 0, 0), status: 'ok', rule: 'quiet' },
    { name: 'below the 20 % alarm', pacing: pacing(5, 5, 1), status: 'ok', rule: 'quiet' },
    // npm start: 30 demo contacts at 5 CPS, a burst of a few seconds mostly deferred
    {
      name: "npm start's burst at 5 cps",
      pacing: pacing(5, 5, 20, { seconds: 6 }),
      status: 'ok',
      rule: 'paced',
    },
    { name: 'a long backlog dialed at the limit', pacing: pacing(5, 5, 45), status: 'ok', rule: 'paced' },
    {
      name: 'two campaigns sharing a limit they fill: still paced',
      pacing: pacing(50, 50, 40),
      active: ['a', 'b'],
      status: 'ok',
      rule: 'paced',
    },
    {
      name: 'deferring without dialing: stalled',
      pacing: pacing(50, 2, 40, { seconds: 30 }),
      status: 'fail',
      rule: 'stalled',
      cause: /few are dialed/,
    },
    {
      name: 'stalled in degraded mode names Redis',
      pacing: pacing(50, 5, 40, { seconds: 30, degraded: true }),
      status: 'fail',
      rule: 'stalled',
      cause: /Redis unreachable/,
    },
    {
      name: 'a short stall (under 10 s of demand) is not called',
      pacing: pacing(50, 2, 40, { seconds: 5 }),
      status: 'ok',
      rule: 'paced',
    },
    {
      name: 'the issue: cut from 50 to 2 a minute ago, campaigns sharing: the cut, warn',
      pacing: pacing(2, 2, 40),
      audit: [cut(1, 50, 2), cut(30, 10, 50)],
      active: ['a', 'b'],
      status: 'warn',
      rule: 'cut',
      cause:
        /^the limit was cut from 50 to 2 cps at 2026-01-05T11:59:00.000Z by ops@host \(cli: carrier asked\)$/,
    },
    {
      name: 'cut far below demand 20 min ago: starved',
      pacing: pacing(2, 2, 40),
      audit: [cut(20, 50, 2)],
      status: 'fail',
      rule: 'starved',
      cause: /cut from 50 to 2 cps/,
    },
    {
      name: 'cut 20 min ago but demand only 2× the limit: a fresh-looking warn, not starved',
      pacing: pacing(10, 10, 10),
      audit: [cut(20, 50, 10)],
      status: 'warn',
      rule: 'cut',
    },
    {
      name: 'the cut was undone since (live limit back at the old one): paced',
      pacing: pacing(50, 50, 40),
      audit: [cut(20, 50, 2)],
      status: 'ok',
      rule: 'paced',
    },
    {
      name: 'the pacer raised after the cut, still far below: the cut is still named',
      pacing: pacing(3, 3, 40),
      audit: [cut(16, 2, 3), cut(20, 50, 2)],
      status: 'fail',
      rule: 'starved',
      cause: /cut from 50 to 2/,
    },
    {
      name: 'a raise only is no cause: paced',
      pacing: pacing(50, 50, 40),
      audit: [cut(1, 2, 50)],
      status: 'ok',
      rule: 'paced',
    },
    {
      name: 'held for 30 min far below demand: starved, naming the hold',
      pacing: pacing(5, 5, 40, { control: held(30) }),
      status: 'fail',
      rule: 'starved',
      cause: /held at 5 cps by ops@host \(trunk maintenance\)/,
    },
    {
      name: 'held a minute ago: warn',
      pacing: pacing(5, 5, 40, { control: held(1) }),
      status: 'warn',
      rule: 'cut',
    },
  ]
  it.each(cases)('$name → $status ($rule)', (c) => {
    const v = judgeRateLimiting({
      pacing: c.pacing,
      ...(c.audit ? { audit: c.audit } : {}),
      active: c.active ?? ['a'],
      now: NOW,
      kind: 'aws',
    })
    expect([v.status, v.rule]).toEqual([c.status, c.rule])
    if (c.cause) expect(v.cause).toMatch(c.cause)
    if (v.status !== 'ok') expect(v.fix).toMatch(/^dialctl /)
  })

  it('on AWS the hold fix resumes the pacer (the scheduled Pacer Lambda); the cut fix restores the old limit', () => {
    const hold = limitDecision({ pacing: pacing(5, 5, 40, { control: held(1) }), kind: 'aws' })!
    expect(hold.fix).toBe(
      'dialctl cps auto --resume --reason "…" (the adaptive pacer steers again), or dialctl cps set N --reason "…"',
    )
    expect(hold.cause).toMatch(/: the adaptive pacer cannot raise it$/)
    for (const kind of ['aws', 'local'] as const) {
      expect(limitDecision({ pacing: pacing(2, 2, 40), audit: [cut(1, 50, 2)], kind })!.fix).toContain(
        'dialctl cps set 50',
      )
      expect(limitDecision({ pacing: pacing(5, 5, 40), kind })).toBeUndefined()
    }
  })

  it('on the local stack, which runs no pacer, the hold fix sets the limit and does not promise a pacer', () => {
    const hold = limitDecision({ pacing: pacing(5, 5, 40, { control: held(1) }), kind: 'local' })!
    expect(hold.fix).toBe(
      'dialctl cps set N --reason "…" (ending the hold with dialctl cps auto --resume changes nothing here: no pacer runs locally, so the limit stays at 5 cps (one pacer step: dialctl cps auto --once))',
    )
    expect(hold.fix).not.toMatch(/pacer steers/)
    expect(hold.cause).toBe(
      'the limit is held at 5 cps by ops@host (trunk maintenance): only an operator changes it (the local stack runs no pacer)',
    )
    // what status and doctor show: the verdict carries the same words
    const verdict = judgeRateLimiting({
      pacing: pacing(5, 5, 40, { control: held(30) }),
      active: ['a'],
      now: NOW,
      kind: 'local',
    })
    expect(verdict).toMatchObject({ rule: 'starved', fix: hold.fix, cause: hold.cause })
  })

  it('a default limit is blamed on no audited cut (issue #16: `npm start --max-cps 5` after a cut from 25)', () => {
    const dflt = pacing(5, 5, 40)
    dflt.limit = { ...dflt.limit, source: 'default' }
    expect(limitDecision({ pacing: dflt, audit: [cut(1, 25, 10)], kind: 'local' })).toBeUndefined()
  })
})

describe('DLQ verdict', () => {
  const dlq = (n: number, oldestAgeSeconds = 1200) => ({ visible: n, inFlight: 0, oldestAgeSeconds })
  const moved = (count: number) => [{ stage: 'queue', outcome: 'dlq', reason: null, campaignId: 'c', count }]
  it.each([
    { name: 'empty', kind: 'local' as const, n: 0, outcomes: moved(0), status: 'ok', rule: 'empty' },
    {
      name: 'growing locally',
      kind: 'local' as const,
      n: 3,
      outcomes: moved(2),
      status: 'fail',
      rule: 'growing',
    },
    {
      name: 'old dead letters locally',
      kind: 'local' as const,
      n: 3,
      outcomes: [],
      status: 'warn',
      rule: 'old',
    },
    {
      name: 'brand-new dead letters, outcomes unreadable',
      kind: 'local' as const,
      n: 2,
      age: 30,
      outcomes: undefined,
      status: 'fail',
      rule: 'growing',
    },
    {
      name: 'brand-new dead letters, no outcome recorded',
      kind: 'local' as const,
      n: 2,
      age: 30,
      outcomes: [],
      status: 'fail',
      rule: 'growing',
    },
    {
      name: 'old dead letters, outcomes unreadable',
      kind: 'local' as const,
      n: 2,
      outcomes: undefined,
      status: 'fail',
      rule: 'unknown',
    },
    {
      name: 'any on AWS (SQS moves unseen)',
      kind: 'aws' as const,
      n: 1,
      outcomes: [],
      status: 'fail',
      rule: 'holds',
    },
  ])('$name → $status', (c) => {
    const v = judgeDlq(dlq(c.n, 'age' in c ? c.age : undefined), c.outcomes, c.kind)
    expect([v.status, v.rule]).toEqual([c.status, c.rule])
  })
})

describe('worker verdict (429 / 503 draining defer without failing: the rule that sees a refusing worker)', () => {
  const metrics = (workerDeferrals: number | undefined, dialed?: number) => ({
    windowMinutes: 5,
    executions: 10,
    failures: 0,
    ...(workerDeferrals !== undefined ? { workerDeferrals } : {}),
    ...(dialed !== undefined ? { dialed } : {}),
  })
  const URL = 'http://127.0.0.1:8787'
  it.each([
    ['not measured (an older stage)', metrics(undefined), 'ok', 'unmeasured'],
    ['no deferral', metrics(0, 50), 'ok', 'accepting'],
    ['a few 429s while dialing', metrics(3, 40), 'ok', 'accepting'],
    ['a few 429s and nothing else yet', metrics(WORKER_REFUSING_MIN - 1, 0), 'ok', 'accepting'],
    ['every POST refused', metrics(WORKER_REFUSING_MIN, 0), 'fail', 'refusing'],
    ['every POST refused, dialed not reported', metrics(40), 'fail', 'refusing'],
    ['most POSTs refused', metrics(30, 5), 'warn', 'busy'],
    ['many refused, more dialed', metrics(30, 300), 'ok', 'accepting'],
  ] as const)('%s → %s (%s)', (_name, m, status, rule) => {
    expect(judgeWorker(m, URL)).toMatchObject({ status, rule })
  })

  it('names the worker and the next command', () => {
    const v = judgeWorker(metrics(12, 0), URL)
    expect(v.detail).toBe(
      '12 task(s) deferred by the worker at http://127.0.0.1:8787 (429 at capacity / 503 draining), 0 dial(s) accepted in the last 5 min',
    )
    expect(v.cause).toMatch(/refuses every POST \/dial .*none reaches the DLQ/)
    expect(v.fix).toMatch(/^curl -s http:\/\/127\.0\.0\.1:8787\/metrics /)
    expect(judgeWorker(metrics(12, 0), undefined).fix).toMatch(/^curl -s <worker URL>\/metrics/)
  })
})
