import { z } from 'zod'
import { decide, INITIAL_CONTROLLER_STATE, type ControllerState } from '../pacing/controller.js'
import type { PacingPolicy } from '../pacing/policy.js'
import type { ControllerPort } from './port.js'

export const AutoStep = z.object({
  at: z.string(),
  inputs: z.object({
    cpuPercent: z.number().nullable(),
    answerRate: z.number().nullable(),
    answerSample: z.number().int(),
    currentLimit: z.number().int(),
  }),
  action: z.enum(['cut', 'raise', 'hold']),
  /** set when an operator's hold kept the limit (the decision was not applied) */
  heldBy: z.string().optional(),
  limit: z.number().int(),
  target: z.number().int(),
  reason: z.string(),
  /** false with --dry-run, or when the decision is to hold */
  applied: z.boolean(),
})
export type AutoStep = z.infer<typeof AutoStep>

/**
 * The controller's memory when it starts: the last change in the audit trail, so the cooldown
 * holds across `cps auto --once` runs (cron) and after a manual `cps set`.
 */
export async function initialState(plane: Pick<ControllerPort, 'limitHistory'>): Promise<ControllerState> {
  const [last] = await plane.limitHistory(1)
  return { ...INITIAL_CONTROLLER_STATE, lastChangeAt: last ? Date.parse(last.at) : null }
}

/** One control interval: read the inputs, decide (src/pacing/controller.ts), apply unless dry-run. */
export async function autoStep(
  plane: ControllerPort,
  policy: PacingPolicy,
  state: ControllerState,
  options: { dryRun: boolean; actor: string; now?: () => number },
): Promise<{ step: AutoStep; state: ControllerState }> {
  const [inputs, pacing] = await Promise.all([plane.controllerInputs(), plane.pacing()])
  const now = options.now?.() ?? Date.now()
  const currentLimit = pacing.limit.limit
  const decision = decide(
    {
      cpuPercent: inputs.cpuPercent,
      answerRate: inputs.answerRate,
      answerSample: inputs.sample,
      currentLimit,
      now,
    },
    state,
    policy,
  )
  let change = decision.limit !== currentLimit
  // A manual hold (`cps set`) wins over the controller, except a safety cut: CPU in the highest
  // tier (critical) may still lower a held limit, and the audit and `cps get` say so.
  const heldBy = pacing.control?.mode === 'held' ? pacing.control.heldBy : undefined
  const safety =
    decision.action === 'cut' && inputs.cpuPercent !== null && inputs.cpuPercent >= criticalCpu(policy)
  if (change && heldBy && !safety) change = false
  if (change && !options.dryRun) {
    const written = await plane.setLimit(decision.limit, decision.reason, options.actor, 'auto', {
      respectHold: { safety },
    })
    if (written.skipped) change = false
  }
  return {
    step: {
      at: new Date(now).toISOString(),
      inputs: {
        cpuPercent: inputs.cpuPercent,
        answerRate: inputs.answerRate,
        answerSample: inputs.sample,
        currentLimit,
      },
      action: decision.action,
      limit: decision.limit,
      target: decision.target,
      // A held limit names the hold also when the controller only waits for its cooldown: "hold
      // 20 (raise to 100 in 119 s, cooldown)" alone promised a raise the hold will not allow.
      reason:
        heldBy && !change && (decision.limit !== currentLimit || decision.target !== currentLimit)
          ? `held by ${heldBy}: not applied (${decision.reason})`
          : decision.reason,
      applied: change && !options.dryRun,
      ...(heldBy ? { heldBy } : {}),
    },
    // A dry run does not move the limit, so it must not start a cooldown either.
    // Nor does a decision a hold kept from applying.
    state:
      options.dryRun || (heldBy && !change)
        ? { ...decision.state, lastChangeAt: state.lastChangeAt }
        : decision.state,
  }
}

/** The CPU at which the policy's last (lowest-limit) tier starts: a cut there is a safety cut. */
export function criticalCpu(policy: PacingPolicy): number {
  const bounds = policy.tiers.map((t) => t.cpuBelow).filter((b): b is number => b !== undefined)
  return bounds.length ? Math.max(...bounds) : Infinity
}
