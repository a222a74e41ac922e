import type { Db } from '../db/pool.js'

/**
 * The dispatcher's SQL on contacts. Each statement is one move of docs/contact-states.md and
 * touches only rows still in the state the move starts from, so a late or repeated call is a no-op.
 */

export interface ClaimedContact {
  id: string
  phoneNumber: string
  metadata: Record<string, unknown>
  /** attempts made so far; becomes DialTask.attempts */
  attempts: number
  /** the callee's zone fields (window.ts calleeZones) */
  timezone?: string | null
  numberTimezones?: string[] | null
}

/**
 * pending → queued for up to `limit` eligible contacts of one campaign, oldest due first.
 * FOR UPDATE SKIP LOCKED: rows another transaction holds are skipped, not waited for, and a row
 * another dispatcher has just queued fails the re-checked `status = 'pending'`, so no contact is
 * claimed twice. The picked rows are addressed by ctid (a Tid Scan): joining back on the primary key
 * made the planner hash the whole contacts table for a 10,000-row claim. The rows are locked by this
 * statement, so their ctid cannot change before the UPDATE; the outer status check is a second guard.
 * Uses contacts_eligible_idx (campaign_id, next_attempt_at) WHERE status = 'pending'.
 */
export const CLAIM_SQL = `
UPDATE contacts c
   SET status = 'queued', status_changed_at = $2
 WHERE c.ctid = ANY (ARRAY(
         SELECT e.ctid
           FROM contacts e
          WHERE e.campaign_id = $1
            AND e.status = 'pending'
            AND e.next_attempt_at <= $2
            AND e.attempts < $3
            AND NOT EXISTS (SELECT 1 FROM blacklist b WHERE b.phone_number = e.phone_number)
          ORDER BY e.next_attempt_at
          LIMIT $4
          FOR UPDATE SKIP LOCKED))
   AND c.campaign_id = $1 AND c.status = 'pending'
RETURNING c.id, c.phone_number, c.metadata, c.attempts, c.timezone, c.number_timezones`

export async function claimEligible(
  db: Db,
  campaignId: string,
  options: { now: Date; maxAttempts: number; limit: number },
): Promise<ClaimedContact[]> {
  if (options.limit <= 0) return []
  const { rows } = await db.query<{
    id: string
    phone_number: string
    metadata: Record<string, unknown> | null
    attempts: number
    timezone: string | null
    number_timezones: string[] | null
  }>(CLAIM_SQL, [campaignId, options.now, options.maxAttempts, options.limit])
  return rows.map((r) => ({
    id: r.id,
    phoneNumber: r.phone_number,
    metadata: r.metadata ?? {},
    attempts: r.attempts,
    timezone: r.timezone,
    numberTimezones: r.number_timezones,
  }))
}

/** queued → pending right away (the task never reached the queue); returns the ids released. */
export async function releaseQueued(
  db: Db,
  campaignId: string,
  contactIds: string[],
  now: Date,
): Promise<string[]> {
  if (contactIds.length === 0) return []
  const { rows } = await db.query<{ id: string }>(
    `UPDATE contacts SET status = 'pending', status_changed_at = $3
      WHERE campaign_id = $1 AND id = ANY($2::text[]) AND status = 'queued'
      RETURNING id`,
    [campaignId, contactIds, now],
  )
  return rows.map((r) => r.id)
}

/** queued → failed for a contact whose stored number cannot form a valid DialTask. */
export async function failQueued(
  db: Db,
  campaignId: string,
  contactIds: string[],
  lastOutcome: string,
  now: Date,
): Promise<string[]> {
  if (contactIds.length === 0) return []
  const { rows } = await db.query<{ id: string }>(
    `UPDATE contacts SET status = 'failed', last_outcome = $3, status_changed_at = $4
      WHERE campaign_id = $1 AND id = ANY($2::text[]) AND status = 'queued'
      RETURNING id`,
    [campaignId, contactIds, lastOutcome, now],
  )
  return rows.map((r) => r.id)
}

export interface FinalizedContact {
  id: string
  attempts: number
  lastOutcome: 'blacklisted' | 'max_attempts'
}

/**
 * pending → failed for due contacts that can never become eligible (number blacklisted, or no
 * attempt left), so a campaign can complete instead of waiting on them forever. Only called when
 * a claim came up short, i.e. when the due pending rows are (nearly) all of this kind.
 */
export async function finalizeIneligible(
  db: Db,
  campaignId: string,
  options: { now: Date; maxAttempts: number },
): Promise<FinalizedContact[]> {
  const { rows } = await db.query<{
    id: string
    attempts: number
    last_outcome: FinalizedContact['lastOutcome']
  }>(
    `UPDATE contacts c
        SET status = 'failed', status_changed_at = $2,
            last_outcome = CASE WHEN c.attempts >= $3 THEN 'max_attempts' ELSE 'blacklisted' END
      WHERE c.campaign_id = $1 AND c.status = 'pending' AND c.next_attempt_at <= $2
        AND (c.attempts >= $3 OR EXISTS (SELECT 1 FROM blacklist b WHERE b.phone_number = c.phone_number))
      RETURNING c.id, c.attempts, c.last_outcome`,
    [campaignId, options.now, options.maxAttempts],
  )
  return rows.map((r) => ({ id: r.id, attempts: r.attempts, lastOutcome: r.last_outcome }))
}

export interface CampaignDemand {
  /** contacts not yet done or failed and not in flight (due now or later) */
  pending: number
  queued: number
  dialing: number
  /** a pending contact is due now and may be claimed (attempts left, number not blacklisted) */
  eligibleNow: boolean
  /** earliest next_attempt_at among pending contacts (due or not); null when none is pending */
  nextAttemptAt: Date | null
}

export interface StatusCounts {
  pending: number
  queued: number
  dialing: number
  done: number
  failed: number
}

/**
 * A campaign's contacts by status, from contact_counts (migration 0008: deltas written by
 * statement-level triggers on every contact insert, status change and delete). Reads the
 * campaign's folded rows plus the deltas since the last fold, so it costs the same at 10 thousand
 * and 10 million contacts. Exact as of the statement's snapshot, like count(*).
 */
export async function countByStatus(db: Db, campaignId: string): Promise<StatusCounts> {
  const { rows } = await db.query<{ status: keyof StatusCounts; n: string }>(
    `SELECT status, sum(n) AS n FROM contact_counts WHERE campaign_id = $1 GROUP BY status`,
    [campaignId],
  )
  const counts: StatusCounts = { pending: 0, queued: 0, dialing: 0, done: 0, failed: 0 }
  for (const r of rows) if (r.status in counts) counts[r.status] = Number(r.n)
  return counts
}

/**
 * Folds a campaign's count deltas into one row per status, so countByStatus keeps reading a
 * handful of rows. Call with the campaign's dispatch lock held (one fold at a time per campaign;
 * concurrent folds would still be correct, only wasteful).
 */
export async function compactCounts(db: Db, campaignId: string): Promise<void> {
  await db.query('SELECT compact_contact_counts($1)', [campaignId])
}

/**
 * Where a campaign stands after a run: what is in flight and what is still to come. The counts
 * come from contact_counts; eligibleNow and nextAttemptAt read the first entries of
 * contacts_eligible_idx, so no statement here grows with the campaign's size.
 */
export async function campaignDemand(
  db: Db,
  campaignId: string,
  options: { now: Date; maxAttempts: number },
): Promise<CampaignDemand> {
  const { rows } = await db.query<{
    pending: string | null
    queued: string | null
    dialing: string | null
    eligible_now: boolean
    next_attempt_at: Date | null
  }>(DEMAND_SQL, [campaignId, options.now, options.maxAttempts])
  const r = rows[0]!
  return {
    pending: Number(r.pending ?? 0),
    queued: Number(r.queued ?? 0),
    dialing: Number(r.dialing ?? 0),
    eligibleNow: r.eligible_now,
    nextAttemptAt: r.next_attempt_at,
  }
}

// eligible_now is ORDER BY … LIMIT 1 rather than EXISTS: EXISTS let the planner pick a sequential
// scan that reads every done contact at the head of the table; the order pins contacts_eligible_idx.
export const DEMAND_SQL = `
SELECT
  (SELECT sum(n) FROM contact_counts WHERE campaign_id = $1 AND status = 'pending') AS pending,
  (SELECT sum(n) FROM contact_counts WHERE campaign_id = $1 AND status = 'queued') AS queued,
  (SELECT sum(n) FROM contact_counts WHERE campaign_id = $1 AND status = 'dialing') AS dialing,
  coalesce((SELECT true FROM contacts c
              WHERE c.campaign_id = $1 AND c.status = 'pending' AND c.next_attempt_at <= $2
                AND c.attempts < $3
                AND NOT EXISTS (SELECT 1 FROM blacklist b WHERE b.phone_number = c.phone_number)
              ORDER BY c.next_attempt_at LIMIT 1), false) AS eligible_now,
  (SELECT min(next_attempt_at) FROM contacts WHERE campaign_id = $1 AND status = 'pending') AS next_attempt_at`

/** Contacts of one campaign queued or dialing (contact_counts). */
export async function countInflight(db: Db, campaignId: string): Promise<number> {
  const { rows } = await db.query<{ n: string | null }>(INFLIGHT_SQL, [campaignId])
  return Number(rows[0]!.n ?? 0)
}

export const INFLIGHT_SQL = `SELECT sum(n) AS n FROM contact_counts WHERE campaign_id = $1 AND status IN ('queued', 'dialing')`

/** Contacts of every campaign waiting in the queue (contact_counts: a few rows per campaign). */
export async function countQueuedAll(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: string | null }>(QUEUED_ALL_SQL)
  return Number(rows[0]!.n ?? 0)
}

export const QUEUED_ALL_SQL = `SELECT sum(n) AS n FROM contact_counts WHERE status = 'queued'`
