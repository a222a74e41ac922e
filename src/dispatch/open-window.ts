import type pg from 'pg'
import type { DialTask } from '../contracts/index.js'
import { withTransaction } from '../db/pool.js'
import { recordTaskOutcomes, type TaskOutcome } from '../outcomes/task-outcomes.js'
import type { DispatchCampaign } from './campaigns.js'
import { holdClosedCallees } from './callee-window.js'
import {
  claimEligible,
  compactCounts,
  countInflight,
  failQueued,
  finalizeIneligible,
  releaseQueued,
  type ClaimedContact,
} from './contacts.js'
import { DEFAULT_MAX_PER_RUN, type CampaignConfig, type DispatchOptions, type RunContext } from './options.js'
import { campaignCapacity } from './pacing.js'
import { sendDialTasks } from './send.js'
import { toDialTasks, type Rejected } from './tasks.js'

/**
 * Phase 2 of a campaign's dispatcher run (src/dispatch/dispatch.ts), inside its calling window:
 * claim, check, send, release, finalize.
 */

// Advisory lock class for "dispatching campaign X" (ASCII 'disp'); the object id hashes the schema
// and campaign, so test schemas sharing one database do not serialize each other.
const DISPATCH_LOCK_CLASS = 0x64697370 & 0x7fffffff

/** What a run did to a campaign's contacts. */
export interface DispatchCounts {
  /** contacts this run was allowed to claim (pacing) */
  capacity: number
  queued: number
  released: number
  invalid: number
  finalized: number
}

export const NOTHING_DONE: DispatchCounts = { capacity: 0, queued: 0, released: 0, invalid: 0, finalized: 0 }

/**
 * Phase 2, inside the calling window: claim up to capacity, fail the invalid numbers, send the
 * rest, release what failed to send, finalize what can never be dialed; record every outcome.
 */
export async function dispatchOpenWindow(
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
