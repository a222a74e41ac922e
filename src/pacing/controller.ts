import type { PacingPolicy } from './policy.js'

/**
 * The adaptive controller: a pure function (no I/O, no clock) so `dialctl cps auto` and the
 * scheduled pacer Lambda run the same decision, and recorded traces replay exactly in tests.
 */
export interface ControllerInputs {
  /** fleet CPU %, e.g. the workers' average; null when no reading is available */
  cpuPercent: number | null
  /** answered / dialed over the sample (0–1); null when nothing was dialed */
  answerRate: number | null
  /** calls the answer rate is computed over */
  answerSample: number
  /** the live limit now (Redis or default) */
  currentLimit: number
  /** ms since epoch of this decision */
  now: number
}

export interface ControllerState {
  /** CPU tier index held (0 = coolest); null before the first reading */
  tier: number | null
  /** the answer-rate reduction is on */
  answerLow: boolean
  /** ms since epoch of the last change the controller made */
  lastChangeAt: number | null
}

export const INITIAL_CONTROLLER_STATE: ControllerState = { tier: null, answerLow: false, lastChangeAt: null }

export interface ControllerDecision {
  limit: number
  action: 'cut' | 'raise' | 'hold'
  /** one line with the inputs and why, for the operator and the audit trail */
  reason: string
  state: ControllerState
  /** what the policy wants; differs from `limit` while an increase waits for the cooldown */
  target: number
}

function tierFor(cpu: number, policy: PacingPolicy): number {
  const i = policy.tiers.findIndex((t) => t.cpuBelow !== undefined && cpu < t.cpuBelow)
  return i === -1 ? policy.tiers.length - 1 : i
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

/**
 * One controller step: the CPU tier (with hysteresis), the answer-rate reduction, then the move
 * from `inputs.currentLimit` toward the target (cut at once, raise in steps after the cooldown).
 */
export function decide(
  inputs: ControllerInputs,
  state: ControllerState,
  policy: PacingPolicy,
): ControllerDecision {
  const { currentLimit: current } = inputs
  // A policy edited to fewer tiers must not leave the held tier pointing past the end.
  const held = state.tier === null ? null : Math.min(state.tier, policy.tiers.length - 1)
  const cpu = cpuTier(inputs.cpuPercent, held, policy)
  const answer = answerRatePhase(inputs, state.answerLow, policy)
  const notes = [cpu.note, ...(answer.note ? [answer.note] : [])]

  const cpuLimit = cpu.tier === null ? current : policy.tiers[cpu.tier]!.limit
  const target = Math.min(
    policy.ceiling,
    Math.max(policy.floor, answer.low ? Math.round(cpuLimit * policy.answerRate.factor) : cpuLimit),
  )
  return move(
    { current, target, tier: cpu.tier, held, answerLow: answer.low, why: notes.join('; ') },
    inputs.now,
    state,
    policy,
  )
}

/**
 * The CPU tier, with hysteresis: worse at once, better one tier at a time and only once CPU is
 * clearly below the boundary (boundary − margin), so noise around 70% cannot flap.
 */
function cpuTier(
  cpu: number | null,
  held: number | null,
  policy: PacingPolicy,
): { tier: number | null; note: string } {
  if (cpu === null) return { tier: held, note: 'no CPU reading' }
  const raw = tierFor(cpu, policy)
  if (held === null || raw >= held) {
    const t = policy.tiers[raw]!
    return {
      tier: raw,
      note:
        t.cpuBelow !== undefined
          ? `CPU ${cpu.toFixed(1)}% < ${t.cpuBelow}% → ${t.limit}`
          : `CPU ${cpu.toFixed(1)}% ≥ ${policy.tiers[raw - 1]?.cpuBelow ?? 0}% → ${t.limit}`,
    }
  }
  const boundary = policy.tiers[held - 1]!.cpuBelow!
  const needed = boundary - policy.cpuHysteresis
  if (cpu < needed)
    return {
      tier: held - 1,
      note: `CPU ${cpu.toFixed(1)}% < ${needed}% (${boundary}% − ${policy.cpuHysteresis} hysteresis) → ${policy.tiers[held - 1]!.limit}`,
    }
  return {
    tier: held,
    note: `CPU ${cpu.toFixed(1)}% not yet below ${needed}% (hysteresis) → stay at ${policy.tiers[held]!.limit}`,
  }
}

/** The answer-rate reduction: counts only over a large enough sample; lifted only above threshold + margin. */
function answerRatePhase(
  inputs: ControllerInputs,
  wasLow: boolean,
  policy: PacingPolicy,
): { low: boolean; note?: string } {
  const ar = policy.answerRate
  if (inputs.answerRate !== null && inputs.answerSample >= ar.minSample) {
    const low =
      inputs.answerRate < ar.threshold
        ? true
        : inputs.answerRate >= ar.threshold + ar.recoveryMargin
          ? false
          : wasLow
    return {
      low,
      note:
        `answer rate ${pct(inputs.answerRate)} over ${inputs.answerSample} calls` +
        (low ? ` (low: < ${pct(ar.threshold)}) → ×${ar.factor}` : ''),
    }
  }
  if (inputs.answerRate !== null || inputs.answerSample > 0)
    return {
      low: wasLow,
      note: `answer sample ${inputs.answerSample} < ${ar.minSample}: ignored${wasLow ? ', reduction kept' : ''}`,
    }
  return { low: wasLow }
}

/** What the two phases decided, and the notes that say why. */
interface Target {
  current: number
  target: number
  tier: number | null
  /** the tier held before this step */
  held: number | null
  answerLow: boolean
  why: string
}

/** The move toward the target: a cut at once; a raise after the cooldown, in steps; else hold. */
function move(t: Target, now: number, state: ControllerState, policy: PacingPolicy): ControllerDecision {
  const { current, target, tier, answerLow, why } = t
  if (target < current)
    return {
      limit: target,
      target,
      action: 'cut',
      reason: `cut ${current} → ${target}: ${why}`,
      state: { tier, answerLow, lastChangeAt: now },
    }
  if (target === current)
    return {
      limit: current,
      target,
      action: 'hold',
      reason: `hold ${current}: ${why}`,
      state: { tier, answerLow, lastChangeAt: state.lastChangeAt },
    }
  const waitMs =
    state.lastChangeAt === null ? 0 : state.lastChangeAt + policy.increaseCooldownSeconds * 1000 - now
  if (waitMs > 0)
    return {
      limit: current,
      target,
      action: 'hold',
      reason: `hold ${current} (raise to ${target} in ${Math.ceil(waitMs / 1000)} s, cooldown): ${why}`,
      // An upward tier step is taken when the raise happens, not while it waits.
      state: {
        tier: tier !== null && t.held !== null && tier < t.held ? t.held : tier,
        answerLow,
        lastChangeAt: state.lastChangeAt,
      },
    }
  // Up in steps: a cut can be deep at once, a recovery climbs (at most ×maxRaiseFactor per cooldown).
  const step = Math.min(target, Math.max(current + 1, Math.floor(current * policy.maxRaiseFactor)))
  return {
    limit: step,
    target,
    action: 'raise',
    reason: `raise ${current} → ${step}${step < target ? ` (toward ${target})` : ''}: ${why}`,
    state: { tier, answerLow, lastChangeAt: now },
  }
}
