import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  decide,
  INITIAL_CONTROLLER_STATE,
  type ControllerDecision,
  type ControllerState,
} from '../../src/pacing/controller.js'
import {
  DEFAULT_PACING_POLICY,
  loadPacingPolicy,
  parsePacingPolicy,
  type PacingPolicy,
} from '../../src/pacing/policy.js'

const INTERVAL_MS = 30_000

interface Sample {
  cpu: number | null
  answerRate?: number | null
  sample?: number
}

/** Replays a recorded trace, one controller run per interval, as `cps auto --interval 30s` does. */
function replay(trace: Sample[], policy: PacingPolicy = DEFAULT_PACING_POLICY, startLimit = 100) {
  let state: ControllerState = INITIAL_CONTROLLER_STATE
  let limit = startLimit
  const decisions: ControllerDecision[] = []
  trace.forEach((s, i) => {
    const d = decide(
      {
        cpuPercent: s.cpu,
        answerRate: s.answerRate ?? null,
        answerSample: s.sample ?? 0,
        currentLimit: limit,
        now: 1_700_000_000_000 + i * INTERVAL_MS,
      },
      state,
      policy,
    )
    decisions.push(d)
    state = d.state
    limit = d.limit
  })
  const limits = decisions.map((d) => d.limit)
  const changes = limits.filter((l, i) => l !== (i === 0 ? startLimit : limits[i - 1])).length
  return { decisions, limits, changes }
}

// Worker-fleet CPU recorded every 30 s during a load test that hovered at the 70% threshold.
const NOISY_AROUND_70 = [
  68.2, 69.5, 71.3, 70.4, 68.9, 72.1, 69.8, 67.6, 70.9, 71.8, 69.1, 68.4, 70.2, 73.0, 69.7, 66.9, 71.4, 70.6,
  68.8, 69.9, 72.4, 70.1, 67.8, 69.3, 71.1, 70.7, 68.5, 69.6, 72.8, 70.3,
]

describe('adaptive controller on recorded traces', () => {
  it('does not flap on a noisy CPU trace around 70%', () => {
    const r = replay(NOISY_AROUND_70.map((cpu) => ({ cpu })))
    // one cut to the 50 CPS tier when CPU first crosses 70%, then it holds
    expect(r.changes).toBe(1)
    expect(r.limits.at(-1)).toBe(50)
    expect(new Set(r.limits)).toEqual(new Set([100, 50]))
  })

  it('the same trace makes a policy without hysteresis or cooldown flap (the test can fail)', () => {
    const naive = parsePacingPolicy({ cpuHysteresis: 0, increaseCooldownSeconds: 0 })
    const r = replay(
      NOISY_AROUND_70.map((cpu) => ({ cpu })),
      naive,
    )
    expect(r.changes).toBeGreaterThan(10)
  })

  it('a jump to 90% cuts the pace to the minimal tier in one interval', () => {
    const r = replay([{ cpu: 50 }, { cpu: 52 }, { cpu: 49 }, { cpu: 90 }])
    expect(r.limits).toEqual([100, 100, 100, 25])
    expect(r.decisions[3]!.action).toBe('cut')
    expect(r.decisions[3]!.reason).toMatch(/cut 100 → 25: CPU 90\.0% ≥ 85% → 25/)
  })

  it('applies the seed table: <70 → 100, 70–85 → 50, >85 → 25 (cuts at once)', () => {
    expect(replay([{ cpu: 69.9 }]).limits).toEqual([100])
    expect(replay([{ cpu: 75 }]).limits).toEqual([50])
    expect(replay([{ cpu: 86 }]).limits).toEqual([25])
  })

  it('recovers one tier per cooldown once CPU is below threshold minus the margin', () => {
    // cooldown 120 s = 4 intervals of 30 s
    const trace = [{ cpu: 90 }, ...Array.from({ length: 12 }, () => ({ cpu: 40 }))]
    const r = replay(trace)
    expect(r.limits).toEqual([25, 25, 25, 25, 50, 50, 50, 50, 100, 100, 100, 100, 100])
    expect(r.decisions[1]!.reason).toMatch(/cooldown/)
    expect(r.decisions[4]!.action).toBe('raise')
  })

  it('climbs back at most ×2 per cooldown even when the target jumps several tiers', () => {
    const r = replay([
      { cpu: 62, answerRate: 0.31, sample: 180 },
      { cpu: 71.3, answerRate: 0.29, sample: 190 },
      { cpu: 68.9, answerRate: 0.3, sample: 200 },
      { cpu: 90.2, answerRate: 0.28, sample: 150 },
      { cpu: 60, answerRate: 0.12, sample: 160 },
      ...Array.from({ length: 8 }, () => ({ cpu: 50, answerRate: 0.3, sample: 150 })),
    ])
    expect(r.limits).toEqual([100, 50, 50, 25, 25, 25, 25, 50, 50, 50, 50, 100, 100])
    expect(r.decisions[7]!.reason).toMatch(/^raise 25 → 50 \(toward 100\)/)
  })

  it('holds in the hysteresis band: 84% after 90% stays at 25 until CPU < 80%', () => {
    const r = replay([{ cpu: 90 }, ...Array.from({ length: 8 }, () => ({ cpu: 84 })), { cpu: 79 }])
    expect(r.limits.slice(0, 9)).toEqual(Array(9).fill(25))
    expect(r.limits[9]).toBe(50)
    expect(r.decisions[5]!.reason).toMatch(/not yet below 80% \(hysteresis\)/)
  })

  it('reduces on a low answer rate only over the minimum sample, and lifts it above threshold + margin', () => {
    const small = replay([{ cpu: 40, answerRate: 0.05, sample: 10 }])
    expect(small.limits).toEqual([100])
    expect(small.decisions[0]!.reason).toMatch(/answer sample 10 < 50: ignored/)

    const r = replay([
      { cpu: 40, answerRate: 0.08, sample: 200 }, // low → 100 × 0.5
      ...Array.from({ length: 5 }, () => ({ cpu: 40, answerRate: 0.22, sample: 200 })), // < 0.25: kept
      ...Array.from({ length: 5 }, () => ({ cpu: 40, answerRate: 0.3, sample: 200 })), // lifted (after cooldown)
    ])
    expect(r.limits[0]).toBe(50)
    expect(r.decisions[0]!.reason).toMatch(/answer rate 8\.0% over 200 calls \(low: < 20\.0%\) → ×0\.5/)
    expect(r.limits.slice(1, 6)).toEqual(Array(5).fill(50))
    expect(r.limits.at(-1)).toBe(100)
  })

  it('stays within floor and ceiling', () => {
    const policy = parsePacingPolicy({
      floor: 30,
      ceiling: 80,
      answerRate: { threshold: 0.5, minSample: 1, factor: 0.1 },
    })
    expect(replay([{ cpu: 10 }], policy).limits).toEqual([80])
    expect(replay([{ cpu: 95, answerRate: 0.1, sample: 100 }], policy).limits).toEqual([30])
  })

  it('holds the current limit when there is no reading at all', () => {
    const r = replay([{ cpu: null }], DEFAULT_PACING_POLICY, 60)
    expect(r.limits).toEqual([60])
    expect(r.decisions[0]!.reason).toMatch(/no CPU reading/)
  })
})

describe('pacing policy file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pacing-policy-'))

  it('defaults are the seed table with hysteresis and cooldown', () => {
    expect(DEFAULT_PACING_POLICY.tiers).toEqual([
      { cpuBelow: 70, limit: 100 },
      { cpuBelow: 85, limit: 50 },
      { limit: 25 },
    ])
    expect(DEFAULT_PACING_POLICY.cpuHysteresis).toBeGreaterThan(0)
    expect(DEFAULT_PACING_POLICY.increaseCooldownSeconds).toBeGreaterThan(0)
  })

  it('loads a partial file over the defaults', () => {
    const file = join(dir, 'ok.json')
    writeFileSync(file, JSON.stringify({ increaseCooldownSeconds: 300, answerRate: { threshold: 0.1 } }))
    const p = loadPacingPolicy(file)
    expect(p.increaseCooldownSeconds).toBe(300)
    expect(p.answerRate).toEqual({ threshold: 0.1, minSample: 50, factor: 0.5, recoveryMargin: 0.05 })
    expect(p.tiers).toEqual(DEFAULT_PACING_POLICY.tiers)
  })

  it('names the field and the file when the policy is wrong', () => {
    const file = join(dir, 'bad.json')
    writeFileSync(
      file,
      JSON.stringify({
        tiers: [
          { cpuBelow: 80, limit: 50 },
          { cpuBelow: 70, limit: 100 },
        ],
      }),
    )
    expect(() => loadPacingPolicy(file)).toThrow(
      new RegExp(
        `pacing policy ${file.replaceAll('/', '\\/')}: .*tiers\\.1\\.cpuBelow: the last tier is the catch-all.*tiers\\.1\\.limit: must not exceed`,
      ),
    )
    writeFileSync(file, '{ not json')
    expect(() => loadPacingPolicy(file)).toThrow(/not valid JSON/)
    expect(() => loadPacingPolicy(join(dir, 'missing.json'))).toThrow(/cannot read it \(ENOENT\)/)
    expect(() => parsePacingPolicy({ floor: 50, ceiling: 10 })).toThrow(
      /floor: must not exceed ceiling \(10\)/,
    )
  })
})
