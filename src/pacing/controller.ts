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

export function decide(
  inputs: ControllerInputs,
  state: ControllerState,
  policy: PacingPolicy,
): ControllerDecision {
  const notes: string[] = []
  const { cpuPercent: cpu, currentLimit: current, now } = inputs

  // CPU tier, with hysteresis: worse at once, better one tier at a time and only once CPU is
  // clearly below the boundary (boundary − margin), so noise around 70% cannot flap.
  // A policy edited to fewer tiers must not leave the held tier pointing past the end.
  const held = state.tier === null ? null : Math.min(state.tier, policy.tiers.length - 1)
  let tier = held
  if (cpu === null) {
    notes.push('no CPU reading')
  } else {
    const raw = tierFor(cpu, policy)
    if (held === null || raw >= held) {
      tier = raw
      const t = policy.tiers[raw]!
      notes.push(
        t.cpuBelow !== undefined
          ? `CPU ${cpu.toFixed(1)}% < ${t.cpuBelow}% → ${t.limit}`
          : `CPU ${cpu.toFixed(1)}% ≥ ${policy.tiers[raw - 1]?.cpuBelow ?? 0}% → ${t.limit}`,
      )
    } else {
      const boundary = policy.tiers[held - 1]!.cpuBelow!
      const needed = boundary - policy.cpuHysteresis
      if (cpu < needed) {
        tier = held - 1
        notes.push(
          `CPU ${cpu.toFixed(1)}% < ${needed}% (${boundary}% − ${policy.cpuHysteresis} hysteresis) → ${policy.tiers[tier]!.limit}`,
        )
      } else {
        notes.push(
          `CPU ${cpu.toFixed(1)}% not yet below ${needed}% (hysteresis) → stay at ${policy.tiers[held]!.limit}`,
        )
      }
    }
  }

  // Answer rate: counts only over a large enough sample; lifted only above threshold + margin.
  const ar = policy.answerRate
  let answerLow = state.answerLow
  if (inputs.answerRate !== null && inputs.answerSample >= ar.minSample) {
    if (inputs.answerRate < ar.threshold) answerLow = true
    else if (inputs.answerRate >= ar.threshold + ar.recoveryMargin) answerLow = false
    notes.push(
      `answer rate ${pct(inputs.answerRate)} over ${inputs.answerSample} calls` +
        (answerLow ? ` (low: < ${pct(ar.threshold)}) → ×${ar.factor}` : ''),
    )
  } else if (inputs.answerRate !== null || inputs.answerSample > 0) {
    notes.push(
      `answer sample ${inputs.answerSample} < ${ar.minSample}: ignored${answerLow ? ', reduction kept' : ''}`,
    )
  }

  const cpuLimit = tier === null ? current : policy.tiers[tier]!.limit
  let target = answerLow ? Math.round(cpuLimit * ar.factor) : cpuLimit
  target = Math.min(policy.ceiling, Math.max(policy.floor, target))

  const why = notes.join('; ')
  if (target < current) {
    return {
      limit: target,
      target,
      action: 'cut',
      reason: `cut ${current} → ${target}: ${why}`,
      state: { tier, answerLow, lastChangeAt: now },
    }
  }
  if (target > current) {
    const waitMs =
      state.lastChangeAt === null ? 0 : state.lastChangeAt + policy.increaseCooldownSeconds * 1000 - now
    if (waitMs > 0) {
      return {
        limit: current,
        target,
        action: 'hold',
        reason: `hold ${current} (raise to ${target} in ${Math.ceil(waitMs / 1000)} s, cooldown): ${why}`,
        // An upward tier step is taken when the raise happens, not while it waits.
        state: {
          tier: tier !== null && held !== null && tier < held ? held : tier,
          answerLow,
          lastChangeAt: state.lastChangeAt,
        },
      }
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
  return {
    limit: current,
    target,
    action: 'hold',
    reason: `hold ${current}: ${why}`,
    state: { tier, answerLow, lastChangeAt: state.lastChangeAt },
  }
}
