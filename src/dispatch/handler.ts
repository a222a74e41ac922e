import type pg from 'pg'
import { z } from 'zod'
import { CampaignStatus, describeZodError } from '../contracts/index.js'
import type { Logger } from '../observability/logger.js'
import type { QueuePort } from '../queue/port.js'
import { dispatchOnce, type CampaignDispatchResult, type DispatchLimits } from './dispatch.js'
import { DEFAULT_STUCK_AFTER_SECONDS, releaseStuckContacts } from './recovery.js'

/** Step Functions passes its state; only campaignId matters (absent = every active campaign). */
export const DispatcherInput = z.looseObject({ campaignId: z.string().min(1).optional() })
export type DispatcherInput = z.infer<typeof DispatcherInput>

export const DispatcherOutput = z.object({
  campaignId: z.string().optional(),
  /** the campaign's status after the round; 'not_found' for an unknown id; 'none' when no id was given and no campaign is active */
  campaignStatus: z.union([CampaignStatus, z.literal('not_found'), z.literal('none')]),
  queued: z.number().int().nonnegative(),
  released: z.number().int().nonnegative(),
  /** contacts that still need a dial now or later (pending + queued + dialing); 0 ends the loop */
  eligibleRemaining: z.number().int().nonnegative(),
  hasMoreEligible: z.boolean(),
  /** seconds until the next round is worth it: poll interval, next window opening, next retry */
  waitSeconds: z.number().int().nonnegative(),
  /** stuck contacts released by crash recovery in this round */
  recovered: z.number().int().nonnegative(),
  campaigns: z.array(z.record(z.string(), z.unknown())),
})
export type DispatcherOutput = z.infer<typeof DispatcherOutput>

export interface DispatcherDeps {
  db: pg.Pool
  queue: QueuePort
  limits: DispatchLimits
  logger?: Logger
  now?: () => Date
  /** crash recovery timeout, seconds; default 15 minutes */
  stuckAfterSeconds?: number
}

/**
 * One round of the campaign execution loop: crash recovery, then dispatch. The same function runs
 * in the Lambda (one campaign per Step Functions execution) and in the local stack's interval loop
 * (every active campaign). A campaign that cannot be dispatched (bad config) fails the round when
 * named, so the execution fails visibly (alarmed) instead of ending as if the campaign were done.
 */
export async function handleDispatch(event: unknown, deps: DispatcherDeps): Promise<DispatcherOutput> {
  const input = DispatcherInput.safeParse(event ?? {})
  if (!input.success) throw new Error(`dispatcher input refused: ${describeZodError(input.error)}`)
  const campaignId = input.data.campaignId
  const now = deps.now?.() ?? new Date()

  const recovered = await releaseStuckContacts(deps.db, {
    olderThan: deps.stuckAfterSeconds ?? DEFAULT_STUCK_AFTER_SECONDS,
    now,
  })
  if (recovered.length)
    deps.logger?.warn('stuck contacts released to pending (crash recovery)', {
      count: recovered.length,
      campaigns: [...new Set(recovered.map((r) => r.campaignId))],
    })

  const result = await dispatchOnce({
    db: deps.db,
    queue: deps.queue,
    limits: deps.limits,
    now,
    logger: deps.logger,
    campaignId,
  })
  const broken = result.campaigns.find((c) => c.error)
  if (campaignId && broken) throw new Error(broken.error)

  const active = result.campaigns.filter((c) => c.campaignStatus === 'active')
  const campaignStatus: DispatcherOutput['campaignStatus'] = campaignId
    ? (result.campaigns[0]?.campaignStatus ?? 'not_found')
    : active.length
      ? 'active'
      : 'none'
  const remaining = active.reduce((n, c) => n + c.eligibleRemaining, 0)
  const waits = active.filter((c) => c.hasMoreEligible).map((c) => c.waitSeconds)
  return {
    ...(campaignId ? { campaignId } : {}),
    campaignStatus,
    queued: result.queued,
    released: result.released,
    eligibleRemaining: remaining,
    hasMoreEligible: active.some((c) => c.hasMoreEligible),
    waitSeconds: waits.length ? Math.min(...waits) : 0,
    recovered: recovered.length,
    campaigns: result.campaigns.map(summary),
  }
}

function summary(c: CampaignDispatchResult): Record<string, unknown> {
  return { ...c, nextAttemptAt: c.nextAttemptAt?.toISOString() ?? null }
}
