import type pg from 'pg'
import { isWithinCallingWindow, nextWindowOpening } from '../campaigns/window.js'
import { transitionCampaignIn, CampaignTransitionError } from '../campaigns/lifecycle.js'
import type { CampaignStatus } from '../contracts/index.js'
import { withTransaction } from '../db/pool.js'
import { loadDispatchCampaigns, type DispatchCampaign } from './campaigns.js'
import { campaignDemand, countByStatus, countQueuedAll } from './contacts.js'
import { dispatchOpenWindow, NOTHING_DONE } from './open-window.js'
import {
  DEFAULT_HORIZON_SECONDS,
  DEFAULT_MAX_WAIT_SECONDS,
  DEFAULT_POLL_SECONDS,
  type CampaignConfig,
  type DispatchLimits,
  type DispatchOptions,
  type RunContext,
} from './options.js'
import { globalBudget } from './pacing.js'
import { errorMessage } from '../errors.js'

export {
  DEFAULT_HORIZON_SECONDS,
  DEFAULT_MAX_PER_RUN,
  DEFAULT_MAX_WAIT_SECONDS,
  DEFAULT_POLL_SECONDS,
  type DispatchLimits,
  type DispatchOptions,
} from './options.js'

export interface CampaignDispatchResult {
  campaignId: string
  /** status after this run ('completed' when this run completed it) */
  campaignStatus: CampaignStatus
  windowOpen: boolean
  /** contacts this run was allowed to claim (pacing), 0 when the window is closed */
  capacity: number
  /** pending → queued and sent */
  queued: number
  /** claimed but not sent (SendMessageBatch failure): back to pending */
  released: number
  /** claimed but not a valid task (number, id, metadata, size — see toDialTasks): failed */
  invalid: number
  /** pending contacts that can never be dialed (blacklisted, no attempt left): failed */
  finalized: number
  /** queued + dialing after this run */
  inflight: number
  /**
   * Contacts that still need a dial, now or later: pending + queued + dialing (0 once every
   * contact is done or failed). The state machine's stop signal, with campaignStatus.
   */
  eligibleRemaining: number
  /** a due contact is still waiting (pacing held it back) */
  eligibleNow: boolean
  /**
   * The loop's signal: contacts remain that are or may become eligible (pending, or in flight and
   * possibly retried). False once every contact is done or failed, or the campaign left active.
   */
  hasMoreEligible: boolean
  nextAttemptAt: Date | null
  /** seconds until the next run is worth it (0 when the loop should stop) */
  waitSeconds: number
  /** set when the campaign could not be dispatched (bad config): what to fix */
  error?: string
}

export interface DispatchResult {
  at: Date
  cpsLimit: number
  campaigns: CampaignDispatchResult[]
  queued: number
  released: number
}

/**
 * One dispatcher run: for each active campaign whose calling window is open, claims up to the
 * paced capacity of eligible contacts (pending → queued), sends them as DialTasks (batches of 10)
 * and releases at once those that failed to send. Then reports whether the campaign has work left
 * and how long to wait, and completes it when every contact is done or failed if its config asks
 * for that (`autoComplete: true`).
 */
export async function dispatchOnce(options: DispatchOptions): Promise<DispatchResult> {
  const now = options.now ?? new Date()
  const limits = options.limits
  const horizon = limits.horizonSeconds ?? DEFAULT_HORIZON_SECONDS
  const cpsLimit = await limits.getLimit()
  if (!Number.isFinite(cpsLimit) || cpsLimit < 0)
    throw new Error(`dispatcher: the CPS limit must be a number >= 0, got ${cpsLimit}; check the limit store`)

  const campaigns = await loadDispatchCampaigns(options.db, options.campaignId)
  let budget = globalBudget(cpsLimit, horizon, await countQueuedAll(options.db))
  const results: CampaignDispatchResult[] = []
  for (const campaign of campaigns) {
    const result = await dispatchCampaign(options, campaign, { now, cpsLimit, horizon, budget })
    budget = Math.max(0, budget - result.queued)
    results.push(result)
  }
  return {
    at: now,
    cpsLimit,
    campaigns: results,
    queued: results.reduce((n, r) => n + r.queued, 0),
    released: results.reduce((n, r) => n + r.released, 0),
  }
}

function idle(
  campaign: DispatchCampaign,
  extra: Partial<CampaignDispatchResult> = {},
): CampaignDispatchResult {
  return {
    campaignId: campaign.id,
    campaignStatus: campaign.status,
    windowOpen: false,
    capacity: 0,
    queued: 0,
    released: 0,
    invalid: 0,
    finalized: 0,
    inflight: 0,
    eligibleRemaining: 0,
    eligibleNow: false,
    hasMoreEligible: false,
    nextAttemptAt: null,
    waitSeconds: 0,
    ...extra,
  }
}

/** The phases of one campaign's run, in order; each returns what it changed. */
async function dispatchCampaign(
  options: DispatchOptions,
  campaign: DispatchCampaign,
  ctx: RunContext,
): Promise<CampaignDispatchResult> {
  if (campaign.status !== 'active') return idle(campaign)
  const window = checkWindow(campaign, ctx.now)
  if (window.kind === 'broken') {
    // A broken campaign is not dialed and not completed: the loop keeps polling slowly, so a fix
    // of the config takes effect without restarting it.
    options.logger?.error('campaign skipped', { campaignId: campaign.id, error: window.error })
    return idle(campaign, {
      hasMoreEligible: true,
      waitSeconds: maxWaitOf(options.limits),
      error: window.error,
    })
  }
  const { config, windowOpen } = window
  const maxAttempts = config.maxAttemptsPerContact
  const counts = windowOpen ? await dispatchOpenWindow(options, campaign, config, ctx) : NOTHING_DONE

  const demand = await campaignDemand(options.db, campaign.id, { now: ctx.now, maxAttempts })
  const inflight = demand.queued + demand.dialing
  const eligibleRemaining = demand.pending + inflight
  const hasMoreEligible = eligibleRemaining > 0
  let campaignStatus: CampaignStatus = campaign.status
  // Running out of contacts is not the end (issue #16): only a campaign file's autoComplete says so.
  if (!hasMoreEligible && options.autoComplete !== false && config.autoComplete === true) {
    if (await completeIfFinished(options.db, campaign.id, ctx.now)) campaignStatus = 'completed'
  }
  const waitSeconds =
    campaignStatus === 'active' && hasMoreEligible
      ? nextRunIn(options.limits, campaign, config, ctx.now, { windowOpen, inflight, demand })
      : 0

  const { queued, released, invalid, finalized, capacity } = counts
  if (queued || released || invalid || finalized || campaignStatus !== campaign.status) {
    options.logger?.info('dispatched', {
      campaignId: campaign.id,
      queued,
      released,
      invalid,
      finalized,
      capacity,
      inflight,
      campaignStatus,
    })
  }
  return {
    campaignId: campaign.id,
    campaignStatus,
    windowOpen,
    ...counts,
    inflight,
    eligibleRemaining,
    eligibleNow: demand.eligibleNow,
    hasMoreEligible: campaignStatus === 'active' && hasMoreEligible,
    nextAttemptAt: demand.nextAttemptAt,
    waitSeconds,
  }
}

type Demand = Awaited<ReturnType<typeof campaignDemand>>

const maxWaitOf = (limits: DispatchLimits) => limits.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS

/** Phase 1: a campaign with a config that loads and a calling window that can be evaluated. */
function checkWindow(
  campaign: DispatchCampaign,
  now: Date,
): { kind: 'broken'; error: string } | { kind: 'ready'; config: CampaignConfig; windowOpen: boolean } {
  const config = campaign.config
  const broken = (why: string | undefined) => ({
    kind: 'broken' as const,
    error: `campaign ${campaign.id} cannot be dispatched: ${why}; fix its config`,
  })
  if (!config) return broken(campaign.configError)
  try {
    return {
      kind: 'ready',
      config,
      windowOpen: isWithinCallingWindow(now, config.callingWindows, campaign.timezone),
    }
  } catch (error) {
    return broken(errorMessage(error))
  }
}

/** Phase 3: seconds until the next run is worth it, for a campaign with work left (1 to maxWait). */
function nextRunIn(
  limits: DispatchLimits,
  campaign: DispatchCampaign,
  config: CampaignConfig,
  now: Date,
  state: { windowOpen: boolean; inflight: number; demand: Demand },
): number {
  const poll = limits.pollSeconds ?? DEFAULT_POLL_SECONDS
  const until = (at: Date) => Math.ceil((at.getTime() - now.getTime()) / 1000)
  let waitSeconds: number
  if (!state.windowOpen) {
    waitSeconds = until(nextWindowOpening(now, config.callingWindows, campaign.timezone))
  } else if (state.demand.eligibleNow || state.inflight > 0 || !state.demand.nextAttemptAt) {
    // Pacing held contacts back, or calls in flight may come back as retries.
    waitSeconds = poll
  } else {
    waitSeconds = until(state.demand.nextAttemptAt)
  }
  return Math.min(maxWaitOf(limits), Math.max(1, waitSeconds))
}

/**
 * active → completed when the campaign has contacts and none is pending, queued or dialing. The
 * check and the move share one transaction holding the campaign row, so an operator's pause in
 * between makes the move refused (and ignored here) rather than lost.
 */
async function completeIfFinished(db: pg.Pool, campaignId: string, now: Date): Promise<boolean> {
  try {
    return await withTransaction(db, async (client) => {
      await client.query('SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE', [campaignId])
      // contact_counts, not count(*): completing a 10-million-contact campaign stays one small read
      const c = await countByStatus(client, campaignId)
      if (c.pending + c.queued + c.dialing > 0 || c.done + c.failed === 0) return false
      await transitionCampaignIn(client, campaignId, 'completed', {
        actor: 'dispatcher',
        reason: 'every contact is done or failed',
        from: ['active'],
        now,
      })
      return true
    })
  } catch (error) {
    if (error instanceof CampaignTransitionError) return false
    throw error
  }
}
