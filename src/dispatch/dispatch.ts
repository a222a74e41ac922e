import type pg from 'pg'
import { isWithinCallingWindow, nextWindowOpening } from '../campaigns/window.js'
import { holdClosedCallees } from './callee-window.js'
import { transitionCampaignIn, CampaignTransitionError } from '../campaigns/lifecycle.js'
import type { CampaignStatus, DialTask } from '../contracts/index.js'
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
import { toDialTasks, type Rejected } from './tasks.js'
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

type CampaignConfig = NonNullable<DispatchCampaign['config']>
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

/** What a run did to a campaign's contacts. */
interface DispatchCounts {
  /** contacts this run was allowed to claim (pacing) */
  capacity: number
  queued: number
  released: number
  invalid: number
  finalized: number
}

const NOTHING_DONE: DispatchCounts = { capacity: 0, queued: 0, released: 0, invalid: 0, finalized: 0 }

/**
 * Phase 2, inside the calling window: claim up to capacity, fail the invalid numbers, send the
 * rest, release what failed to send, finalize what can never be dialed; record every outcome.
 */
async function dispatchOpenWindow(
  options: DispatchOptions,
  campaign: DispatchCampaign,
  config: CampaignConfig,
  ctx: RunContext,
): Promise<DispatchCounts> {
  const { db } = options
  const maxAttempts = config.maxAttemptsPerContact
  const claim = await claimContacts(options, campaign.id, config, ctx)
  // The callee's own window (issue #11): contacts whose zone is closed wait for their opening.
  const callees = await holdClosedCallees(db, campaign.id, claim.contacts, {
    now: ctx.now,
    windows: config.callingWindows,
    campaignTimezone: campaign.timezone,
  })
  const { tasks, rejected } = toDialTasks(campaign.id, callees.send)
  const invalid = await failInvalid(options, campaign.id, rejected, ctx.now)
  const sent = await sendClaimed(options, campaign.id, tasks, ctx.now)
  const finalized =
    claim.capacity > 0 && claim.contacts.length < claim.capacity
      ? await finalizeUndialable(db, campaign.id, maxAttempts, ctx.now)
      : { count: 0, outcomes: [] }
  await recordTaskOutcomes(db, [...invalid.outcomes, ...sent.outcomes, ...finalized.outcomes])
  return {
    capacity: claim.capacity,
    queued: sent.queued,
    released: sent.released,
    invalid: invalid.count,
    finalized: finalized.count,
  }
}

/** pending → queued for up to the paced capacity, serialized per campaign. */
async function claimContacts(
  options: DispatchOptions,
  campaignId: string,
  config: CampaignConfig,
  ctx: RunContext,
): Promise<{ capacity: number; contacts: ClaimedContact[] }> {
  return withTransaction(options.db, async (client) => {
    // Serializes runs on one campaign: the inflight count and the claim see each other, so two
    // dispatchers together never exceed the campaign's capacity. SKIP LOCKED in the claim still
    // guards against any other writer of the rows.
    await client.query(`SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || ':' || $2::text))`, [
      DISPATCH_LOCK_CLASS,
      campaignId,
    ])
    // Under the lock: one fold of the campaign's count deltas at a time (see compactCounts).
    await compactCounts(client, campaignId)
    const inflight = await countInflight(client, campaignId)
    const capacity = Math.min(
      ctx.budget,
      campaignCapacity({
        maxConcurrentCalls: config.maxConcurrentCalls,
        cpsLimit: ctx.cpsLimit,
        horizonSeconds: ctx.horizon,
        inflight,
        maxPerRun: options.limits.maxPerRun ?? DEFAULT_MAX_PER_RUN,
      }),
    )
    const contacts = await claimEligible(client, campaignId, {
      now: ctx.now,
      maxAttempts: config.maxAttemptsPerContact,
      limit: capacity,
    })
    return { capacity, contacts }
  })
}

/**
 * Claimed contacts that cannot become a task (toDialTasks: bad number, bad field, too large):
 * failed with their reason as last_outcome, one `dropped` outcome each naming it.
 */
async function failInvalid(
  options: DispatchOptions,
  campaignId: string,
  rejected: Rejected[],
  now: Date,
): Promise<{ count: number; outcomes: TaskOutcome[] }> {
  if (!rejected.length) return { count: 0, outcomes: [] }
  let count = 0
  for (const lastOutcome of new Set(rejected.map((r) => r.lastOutcome))) {
    const ids = rejected.filter((r) => r.lastOutcome === lastOutcome).map((r) => r.contactId)
    count += (await failQueued(options.db, campaignId, ids, lastOutcome, now)).length
  }
  const outcomes = rejected.map((r): TaskOutcome => ({
    campaignId,
    contactId: r.contactId,
    attempt: r.attempts,
    stage: 'dispatcher',
    outcome: 'dropped',
    reason: r.reason,
  }))
  options.logger?.warn('contacts that cannot be dial tasks marked failed', {
    campaignId,
    count: rejected.length,
    reasons: [...new Set(rejected.map((r) => r.lastOutcome))],
  })
  return { count, outcomes }
}

/** SendMessageBatch the tasks; contacts whose entries failed go back to pending at once. */
async function sendClaimed(
  options: DispatchOptions,
  campaignId: string,
  tasks: DialTask[],
  now: Date,
): Promise<{ queued: number; released: number; outcomes: TaskOutcome[] }> {
  if (!tasks.length) return { queued: 0, released: 0, outcomes: [] }
  const sent = await sendDialTasks(options.queue, tasks, { concurrency: options.limits.sendConcurrency })
  if (!sent.failed.length) return { queued: sent.sent.length, released: 0, outcomes: [] }
  const ids = sent.failed.map((f) => f.contactId)
  const released = (await releaseQueued(options.db, campaignId, ids, now)).length
  const attemptsOf = new Map(tasks.map((t) => [t.contactId, t.attempts]))
  const outcomes = sent.failed.map((f): TaskOutcome => ({
    campaignId,
    contactId: f.contactId,
    attempt: attemptsOf.get(f.contactId),
    stage: 'dispatcher',
    outcome: 'failed',
    reason: `SendMessageBatch entry failed (${f.code}: ${f.message}); released to pending`,
  }))
  options.logger?.warn('dial tasks not sent; contacts released to pending', {
    campaignId,
    released,
    codes: [...new Set(sent.failed.map((f) => f.code))],
  })
  return { queued: sent.sent.length, released, outcomes }
}

/** The claim came up short: what is left due is (mostly) contacts that can never be dialed. */
async function finalizeUndialable(
  db: pg.Pool,
  campaignId: string,
  maxAttempts: number,
  now: Date,
): Promise<{ count: number; outcomes: TaskOutcome[] }> {
  const done = await finalizeIneligible(db, campaignId, { now, maxAttempts })
  const outcomes = done.map((f): TaskOutcome => ({
    campaignId,
    contactId: f.id,
    attempt: f.attempts,
    stage: 'dispatcher',
    outcome: 'dropped',
    reason:
      f.lastOutcome === 'blacklisted' ? 'number is blacklisted' : `no attempt left (max ${maxAttempts})`,
  }))
  return { count: done.length, outcomes }
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
