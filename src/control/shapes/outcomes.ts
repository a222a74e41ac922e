import { z } from 'zod'

/** The outcome shapes of the control port (port.ts): what became of pushed tasks, store reachability. */

export const RunProgress = z.object({
  dialed: z.number().int(),
  /**
   * Tasks the limiter refused that went back to the queue as ordinary retries (outcome
   * rate_limited): each spent one receive of maxReceiveCount.
   */
  rateLimited: z.number().int(),
  /**
   * Deferrals (outcome deferred): tasks re-sent with a delay to their next slot, no receive spent;
   * one task may be deferred more than once. Default 0 for older control Lambdas.
   */
  deferred: z.number().int().default(0),
  failed: z.number().int(),
  dropped: z.number().int(),
  dlq: z.number().int(),
  /**
   * Tasks that ended without a dial, by where and why (final outcomes dropped, filtered, dlq;
   * `reason` is the outcome reason's code, e.g. blacklisted, outside_calling_window, a GATE_REFUSALS
   * code from the dial gate; null for dlq). Default [] for older control Lambdas.
   */
  notDialed: z
    .array(
      z.object({
        stage: z.string(),
        outcome: z.string(),
        reason: z.string().nullable(),
        count: z.number().int(),
      }),
    )
    .default([]),
  /** milliseconds from send to dial, one per dialed task (for percentiles) */
  sendToDialMs: z.array(z.number()),
  firstDialAt: z.string().nullable(),
  lastDialAt: z.string().nullable(),
})
export type RunProgress = z.infer<typeof RunProgress>

export const OutcomeCount = z.object({
  stage: z.string(),
  outcome: z.string(),
  reason: z.string().nullable(),
  campaignId: z.string().nullable(),
  count: z.number().int(),
})
export type OutcomeCount = z.infer<typeof OutcomeCount>

export const Reachability = z.object({
  postgres: z.boolean(),
  redis: z.boolean(),
  /** local stack only: the worker's GET /health */
  worker: z.boolean().optional(),
})
export type Reachability = z.infer<typeof Reachability>
