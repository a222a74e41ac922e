import type pg from 'pg'
import { isWithinCallingWindow, nextWindowOpening } from '../campaigns/window.js'
import { holdClosedCallees } from './callee-window.js'
import { transitionCampaignIn, CampaignTransitionError } from '../campaigns/lifecycle.js'
import { DialTask, describeZodError, type CampaignStatus } from '../contracts/index.js'
import { withTransaction } from '../db/pool.js'
import type { Logger } from '../observability/logger.js'
import { recordTaskOutcomes, type TaskOutcome } from '../outcomes/task-outcomes.js'
import type { QueuePort } from '../queue/port.js'
import { loadDispatchCampaigns, type DispatchCampaign } from './campaigns.js'
import {
  campaignDemand,
  claimEligible,
  compactCounts,
  countByStatus,
  countInflight,
  countQueuedAll,
  failQueued,
  finalizeIneligible,
  releaseQueued,
  type ClaimedContact,
} from './contacts.js'
import { campaignCapacity, globalBudget } from './pacing.js'
import { sendDialTasks } from './send.js'
import { errorMessage } from '../errors.js'

export interface DispatchLimits {
  /** the live CPS limit (the pacing limit store in Redis; MAX_CPS when it holds none) */
  getLimit(): Promise<number>
  /** seconds of dialing the queue may hold ahead of the dialer; default 10 */
  horizonSeconds?: number
  /** at most this many contacts per campaign per run; default 10,000 */
  maxPerRun?: number
  /** wait suggested while work remains (eligible now or calls in flight); default 5 s */
  pollSeconds?: number
  /** longest wait suggested (closed window, retries due later); default 300 s */
  maxWaitSeconds?: number
  /** SendMessageBatch calls in flight at once; default 4 */
  sendConcurrency?: number
}

export const DEFAULT_HORIZON_SECONDS = 10
export const DEFAULT_MAX_PER_RUN = 10_000
export const DEFAULT_POLL_SECONDS = 5
export const DEFAULT_MAX_WAIT_SECONDS = 300

export interface DispatchOptions {
  db: pg.Pool
  queue: QueuePort
  limits: DispatchLimits
  now?: Date
  logger?: Logger
  /** only this campaign (Step Functions runs one execution per campaign); else every active one */
  campaignId?: string
  /**
   * false: never complete a campaign here. Otherwise an active campaign whose config says
   * `autoComplete: true` moves to completed once every contact is done or failed; without it the
   * campaign stays active (open to imports and pushes) until an operator completes it.
   */
  autoComplete?: boolean
}

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
  /** claimed but the stored number is not valid E.164: failed */
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

// Advisory lock class for "dispatching campaign X" (ASCII 'disp'); the object id hashes the schema
// and campaign, so test schemas sharing one database do not serialize each other.
const DISPATCH_LOCK_CLASS = 0x64697370 & 0x7fffffff

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

interface RunContext {
  now: Date
  cpsLimit: number
  horizon: number
  budget: number
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

async function dispatchCampaign(
  options: DispatchOptions,
  campaign: DispatchCampaign,
  ctx: RunContext,
): Promise<CampaignDispatchResult> {
  const { db, logger } = options
  const limits = options.limits
  const maxWait = limits.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS
  const poll = limits.pollSeconds ?? DEFAULT_POLL_SECONDS
  if (campaign.status !== 'active') return idle(campaign)

  const config = campaign.config
  let windowOpen = false
  let windowError: string | undefined
  if (config) {
    try {
      windowOpen = isWithinCallingWindow(ctx.now, config.callingWindows, campaign.timezone)
    } catch (error) {
      windowError = errorMessage(error)
    }
  }
  if (!config || windowError) {
    // A broken campaign is not dialed and not completed: the loop keeps polling slowly, so a fix
    // of the config takes effect without restarting it.
    const error = `campaign ${campaign.id} cannot be dispatched: ${campaign.configError ?? windowError}; fix its config`
    logger?.error('campaign skipped', { campaignId: campaign.id, error })
    return idle(campaign, { hasMoreEligible: true, waitSeconds: maxWait, error })
  }
  const maxAttempts = config.maxAttemptsPerContact

  let capacity = 0
  let queued = 0
  let released = 0
  let invalid = 0
  let finalized = 0
  if (windowOpen) {
    const claim = await withTransaction(db, async (client) => {
      // Serializes runs on one campaign: the inflight count and the claim see each other, so two
      // dispatchers together never exceed the campaign's capacity. SKIP LOCKED in the claim still
      // guards against any other writer of the rows.
      await client.query(`SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || ':' || $2::text))`, [
        DISPATCH_LOCK_CLASS,
        campaign.id,
      ])
      // Under the lock: one fold of the campaign's count deltas at a time (see compactCounts).
      await compactCounts(client, campaign.id)
      const inflight = await countInflight(client, campaign.id)
      const cap = Math.min(
        ctx.budget,
        campaignCapacity({
          maxConcurrentCalls: config.maxConcurrentCalls,
          cpsLimit: ctx.cpsLimit,
          horizonSeconds: ctx.horizon,
          inflight,
          maxPerRun: limits.maxPerRun ?? DEFAULT_MAX_PER_RUN,
        }),
      )
      const contacts = await claimEligible(client, campaign.id, { now: ctx.now, maxAttempts, limit: cap })
      return { cap, contacts }
    })
    capacity = claim.cap
    const outcomes: TaskOutcome[] = []
    // The callee's own window (issue #11): contacts whose zone is closed wait for their opening.
    const callees = await holdClosedCallees(db, campaign.id, claim.contacts, {
      now: ctx.now,
      windows: config.callingWindows,
      campaignTimezone: campaign.timezone,
    })
    const { tasks, rejected } = toDialTasks(campaign.id, callees.send)
    if (rejected.length) {
      invalid = (
        await failQueued(
          db,
          campaign.id,
          rejected.map((r) => r.contactId),
          'invalid_phone',
          ctx.now,
        )
      ).length
      for (const r of rejected)
        outcomes.push({
          campaignId: campaign.id,
          contactId: r.contactId,
          attempt: r.attempts,
          stage: 'dispatcher',
          outcome: 'dropped',
          reason: `invalid contact: ${r.reason}`,
        })
      logger?.warn('contacts with an invalid phone number marked failed', {
        campaignId: campaign.id,
        count: rejected.length,
      })
    }
    if (tasks.length) {
      const sent = await sendDialTasks(options.queue, tasks, { concurrency: limits.sendConcurrency })
      queued = sent.sent.length
      if (sent.failed.length) {
        released = (
          await releaseQueued(
            db,
            campaign.id,
            sent.failed.map((f) => f.contactId),
            ctx.now,
          )
        ).length
        const attemptsOf = new Map(tasks.map((t) => [t.contactId, t.attempts]))
        for (const f of sent.failed)
          outcomes.push({
            campaignId: campaign.id,
            contactId: f.contactId,
            attempt: attemptsOf.get(f.contactId),
            stage: 'dispatcher',
            outcome: 'failed',
            reason: `SendMessageBatch entry failed (${f.code}: ${f.message}); released to pending`,
          })
        logger?.warn('dial tasks not sent; contacts released to pending', {
          campaignId: campaign.id,
          released,
          codes: [...new Set(sent.failed.map((f) => f.code))],
        })
      }
    }
    if (capacity > 0 && claim.contacts.length < capacity) {
      // The claim came up short: what is left due is (mostly) contacts that can never be dialed.
      const done = await finalizeIneligible(db, campaign.id, { now: ctx.now, maxAttempts })
      finalized = done.length
      for (const f of done)
        outcomes.push({
          campaignId: campaign.id,
          contactId: f.id,
          attempt: f.attempts,
          stage: 'dispatcher',
          outcome: 'dropped',
          reason:
            f.lastOutcome === 'blacklisted'
              ? 'number is blacklisted'
              : `no attempt left (max ${maxAttempts})`,
        })
    }
    await recordTaskOutcomes(db, outcomes)
  }

  const demand = await campaignDemand(db, campaign.id, { now: ctx.now, maxAttempts })
  const inflight = demand.queued + demand.dialing
  const eligibleRemaining = demand.pending + inflight
  const hasMoreEligible = eligibleRemaining > 0
  let campaignStatus: CampaignStatus = campaign.status
  if (!hasMoreEligible && options.autoComplete !== false && config.autoComplete === true) {
    if (await completeIfFinished(db, campaign.id, ctx.now)) campaignStatus = 'completed'
  }

  let waitSeconds = 0
  if (campaignStatus === 'active' && hasMoreEligible) {
    const until = (at: Date) => Math.ceil((at.getTime() - ctx.now.getTime()) / 1000)
    if (!windowOpen) {
      waitSeconds = until(nextWindowOpening(ctx.now, config.callingWindows, campaign.timezone))
    } else if (demand.eligibleNow || inflight > 0) {
      // Pacing held contacts back, or calls in flight may come back as retries.
      waitSeconds = poll
    } else {
      waitSeconds = until(demand.nextAttemptAt!)
    }
    waitSeconds = Math.min(maxWait, Math.max(1, waitSeconds))
  }

  if (queued || released || invalid || finalized || campaignStatus !== campaign.status) {
    logger?.info('dispatched', {
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
    capacity,
    queued,
    released,
    invalid,
    finalized,
    inflight,
    eligibleRemaining,
    eligibleNow: demand.eligibleNow,
    hasMoreEligible: campaignStatus === 'active' && hasMoreEligible,
    nextAttemptAt: demand.nextAttemptAt,
    waitSeconds,
  }
}

interface Rejected {
  contactId: string
  attempts: number
  reason: string
}

/** zod at the boundary: a row whose number is not E.164 becomes a failure, not a poisoned task. */
function toDialTasks(
  campaignId: string,
  contacts: ClaimedContact[],
): { tasks: DialTask[]; rejected: Rejected[] } {
  const tasks: DialTask[] = []
  const rejected: Rejected[] = []
  for (const c of contacts) {
    const parsed = DialTask.safeParse({
      campaignId,
      contactId: c.id,
      phoneNumber: c.phoneNumber,
      metadata: c.metadata,
      attempts: c.attempts,
    })
    if (parsed.success) tasks.push(parsed.data)
    else rejected.push({ contactId: c.id, attempts: c.attempts, reason: describeZodError(parsed.error) })
  }
  return { tasks, rejected }
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
