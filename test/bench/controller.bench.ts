/**
 * The adaptive controller replayed over a synthetic, noisy fleet-CPU trace (calm, ramp to 90%,
 * noisy around 70%, recovery), one decision per `dialctl cps auto` interval (30 s), with the
 * default policy — against the seed's bare table (the same tiers, no hysteresis, no cooldown).
 * `decide()` is pure, so this measures decisions, not time: how often the limit changes, whether
 * it ever sits above what the table allows, and what the stability costs in average limit.
 * Several noise seeds; figures are median (min, max) over them. The chart shows the first seed.
 */
import { decide, INITIAL_CONTROLLER_STATE, type ControllerState } from '../../src/pacing/controller.js'
import { DEFAULT_PACING_POLICY, type PacingPolicy } from '../../src/pacing/policy.js'
import { lineChart, type Series } from './charts.js'
import { fmt, QUICK, stats, type BenchSection } from './types.js'

const INTERVAL_S = 30
const SEEDS = QUICK ? [1, 2, 3] : [1, 2, 3, 4, 5, 6, 7]
const START_LIMIT = 100

export interface TracePoint {
  /** seconds since the start of the trace */
  t: number
  cpu: number
  phase: string
}

/** Deterministic PRNG (mulberry32), so a seed always gives the same trace. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * One hour of fleet CPU at 30 s samples: calm ~40% (10 min), ramp to ~90% (10 min), hot ~90%
 * (5 min), noisy around the 70% boundary (15 min), recovery to ~35% (10 min), calm (10 min).
 * Noise is uniform ±amplitude, clamped to 0–100.
 */
export function cpuTrace(seed: number): TracePoint[] {
  const rand = prng(seed)
  const noise = (amp: number) => (rand() * 2 - 1) * amp
  const phases: Array<{ phase: string; minutes: number; cpu: (f: number) => number; amp: number }> = [
    { phase: 'calm', minutes: 10, cpu: () => 40, amp: 4 },
    { phase: 'ramp', minutes: 10, cpu: (f) => 40 + 50 * f, amp: 3 },
    { phase: 'hot', minutes: 5, cpu: () => 90, amp: 3 },
    { phase: 'noisy ~70%', minutes: 15, cpu: () => 70, amp: 6 },
    { phase: 'recovery', minutes: 10, cpu: (f) => 70 - 35 * f, amp: 3 },
    { phase: 'calm', minutes: 10, cpu: () => 35, amp: 4 },
  ]
  const out: TracePoint[] = []
  let t = 0
  for (const p of phases) {
    const n = (p.minutes * 60) / INTERVAL_S
    for (let i = 0; i < n; i++, t += INTERVAL_S) {
      const cpu = Math.min(100, Math.max(0, p.cpu(i / (n - 1)) + noise(p.amp)))
      out.push({ t, cpu: Math.round(cpu * 10) / 10, phase: p.phase })
    }
  }
  return out
}

/** The seed's table as it stands: the tier for this reading, nothing remembered. */
export function seedTable(cpu: number, policy: PacingPolicy = DEFAULT_PACING_POLICY): number {
  const tier = policy.tiers.find((t) => t.cpuBelow !== undefined && cpu < t.cpuBelow)
  return (tier ?? policy.tiers[policy.tiers.length - 1]!).limit
}

export interface Step {
  t: number
  cpu: number
  phase: string
  limit: number
  table: number
  action: 'cut' | 'raise' | 'hold'
  reason: string
}

/** Runs the controller over the trace, the limit applied after each decision (as `cps auto` does). */
export function replay(trace: TracePoint[], policy: PacingPolicy = DEFAULT_PACING_POLICY): Step[] {
  let state: ControllerState = INITIAL_CONTROLLER_STATE
  let limit = START_LIMIT
  const t0 = Date.UTC(2026, 0, 1)
  return trace.map((p) => {
    const d = decide(
      // a healthy answer rate over a large sample: this bench isolates the CPU side
      { cpuPercent: p.cpu, answerRate: 0.6, answerSample: 200, currentLimit: limit, now: t0 + p.t * 1000 },
      state,
      policy,
    )
    state = d.state
    limit = d.limit
    return { ...p, limit, table: seedTable(p.cpu, policy), action: d.action, reason: d.reason }
  })
}

export interface ReplaySummary {
  changes: number
  tableChanges: number
  /** a change undoing the previous one within 5 minutes: flapping */
  reversals: number
  tableReversals: number
  /** intervals where the controller allowed more than the table: must be 0 (cuts are never delayed) */
  aboveTable: number
  meanLimit: number
  tableMeanLimit: number
}

function countChanges(limits: number[], times: number[]): { changes: number; reversals: number } {
  let changes = 0
  let reversals = 0
  let last: { at: number; dir: number } | undefined
  for (let i = 1; i < limits.length; i++) {
    const diff = limits[i]! - limits[i - 1]!
    if (diff === 0) continue
    changes++
    const dir = Math.sign(diff)
    if (last && last.dir !== dir && times[i]! - last.at <= 300) reversals++
    last = { at: times[i]!, dir }
  }
  return { changes, reversals }
}

export function summarize(steps: Step[]): ReplaySummary {
  const times = steps.map((s) => s.t)
  // the limit before the first decision counts, so a first cut is a change
  const ours = countChanges([START_LIMIT, ...steps.map((s) => s.limit)], [-INTERVAL_S, ...times])
  const table = countChanges([START_LIMIT, ...steps.map((s) => s.table)], [-INTERVAL_S, ...times])
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  return {
    changes: ours.changes,
    tableChanges: table.changes,
    reversals: ours.reversals,
    tableReversals: table.reversals,
    aboveTable: steps.filter((s) => s.limit > s.table).length,
    meanLimit: mean(steps.map((s) => s.limit)),
    tableMeanLimit: mean(steps.map((s) => s.table)),
  }
}

const clock = (t: number) =>
  `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`

export function controllerChart(steps: Step[]): string {
  const minutes = (t: number) => t / 60
  return lineChart({
    title: 'Adaptive controller: CPS limit over a noisy CPU trace (decision every 30 s)',
    xLabel: 'minutes',
    panels: [
      {
        yLabel: 'CPS limit',
        yMin: 0,
        yMax: 110,
        series: [
          {
            name: "seed's table (no hysteresis)",
            points: steps.map((s) => [minutes(s.t), s.table]),
            step: true,
            dashed: true,
            color: '#aaaaaa',
          },
          {
            name: 'controller (default policy)',
            points: steps.map((s) => [minutes(s.t), s.limit]),
            step: true,
            color: '#1f77b4',
          },
        ],
      },
      {
        yLabel: 'fleet CPU %',
        yMin: 0,
        yMax: 100,
        weight: 0.8,
        series: [
          { name: 'CPU %', points: steps.map((s) => [minutes(s.t), s.cpu]), color: '#d62728', dots: true },
          // the legend entry for both boundary lines; the lines themselves are unnamed
          { name: '70% / 85% tier boundaries', points: [], color: '#999999', dashed: true },
          ...[70, 85].map((b): Series => ({
            name: '',
            points: [
              [0, b],
              [minutes(steps[steps.length - 1]!.t), b],
            ],
            color: '#999999',
            dashed: true,
          })),
        ],
      },
    ],
  })
}

export async function run(): Promise<BenchSection> {
  const perSeed = SEEDS.map((seed) => {
    const steps = replay(cpuTrace(seed))
    return { seed, steps, summary: summarize(steps) }
  })
  const pick = (k: keyof ReplaySummary) => stats(perSeed.map((r) => r.summary[k]))
  const s = {
    changes: pick('changes'),
    tableChanges: pick('tableChanges'),
    reversals: pick('reversals'),
    tableReversals: pick('tableReversals'),
    aboveTable: pick('aboveTable'),
    meanLimit: pick('meanLimit'),
    tableMeanLimit: pick('tableMeanLimit'),
  }
  const first = perSeed[0]!
  const changesOfFirst = first.steps.filter(
    (st, i) => st.limit !== (first.steps[i - 1]?.limit ?? START_LIMIT),
  )
  const samples = first.steps.length
  const markdown = [
    `\`decide()\` with the default policy (the seed's tiers, ${DEFAULT_PACING_POLICY.cpuHysteresis}-point hysteresis, ` +
      `${DEFAULT_PACING_POLICY.increaseCooldownSeconds} s raise cooldown, raises ×${DEFAULT_PACING_POLICY.maxRaiseFactor} at most) ` +
      `over a synthetic 1-hour CPU trace, ${samples} decisions ${INTERVAL_S} s apart (calm ~40%, ramp to ~90%, hot, ` +
      `noisy 70% ± 6, recovery to ~35%), starting at ${START_LIMIT} CPS; answer rate held healthy. Compared with the ` +
      `seed's bare table on the same readings. ${SEEDS.length} noise seeds; median (min, max).`,
    '',
    '| figure | controller | seed table |',
    '|---|---|---|',
    `| limit changes in the hour | ${fmt(s.changes)} | ${fmt(s.tableChanges)} |`,
    `| reversals within 5 min (flapping) | ${fmt(s.reversals)} | ${fmt(s.tableReversals)} |`,
    `| intervals above the table's limit (must be 0) | ${fmt(s.aboveTable)} | – |`,
    `| mean limit over the hour (CPS) | ${fmt(s.meanLimit, 1)} | ${fmt(s.tableMeanLimit, 1)} |`,
    '',
    '![controller limit over the CPU trace](controller.svg)',
    '',
    `Decisions that changed the limit (seed ${first.seed}):`,
    '',
    '| time (mm:ss) | phase | CPU % | limit | reason |',
    '|---|---|---:|---:|---|',
    ...changesOfFirst.map(
      (st) =>
        `| ${clock(st.t)} | ${st.phase} | ${st.cpu.toFixed(1)} | ${st.limit} | ${st.reason.replace(/\|/g, '\\|')} |`,
    ),
  ].join('\n')
  const summaryLine =
    `Controller over a noisy 1-hour CPU trace: ${s.changes.median} limit changes vs ${s.tableChanges.median} for the ` +
    `seed's bare table (reversals within 5 min: ${s.reversals.median} vs ${s.tableReversals.median}); never above the table.`
  return {
    title: 'Adaptive controller over a CPU trace',
    markdown,
    summary: [summaryLine],
    files: { 'controller.svg': controllerChart(first.steps) },
    json: {
      intervalSeconds: INTERVAL_S,
      seeds: SEEDS,
      policy: DEFAULT_PACING_POLICY,
      ...s,
      firstSeedDecisions: first.steps.map(({ t, cpu, limit, table, action, reason }) => ({
        t,
        cpu,
        limit,
        table,
        action,
        reason,
      })),
    },
  }
}
