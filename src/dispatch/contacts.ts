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

/** Where a campaign stands after a run: what is in flight and what is still to come. */
export async function campaignDemand(
  db: Db,
  campaignId: string,
  options: { now: Date; maxAttempts: number },
): Promise<CampaignDemand> {
  const { rows } = await db.query<{
    pending: string
    queued: string
    dialing: string
    eligible_now: boolean
    next_attempt_at: Date | null
  }>(
    `SELECT
       (SELECT count(*) FROM contacts WHERE campaign_id = $1 AND status = 'pending') AS pending,
       (SELECT count(*) FROM contacts WHERE campaign_id = $1 AND status = 'queued') AS queued,
       (SELECT count(*) FROM contacts WHERE campaign_id = $1 AND status = 'dialing') AS dialing,
       EXISTS (SELECT 1 FROM contacts c
                WHERE c.campaign_id = $1 AND c.status = 'pending' AND c.next_attempt_at <= $2
                  AND c.attempts < $3
                  AND NOT EXISTS (SELECT 1 FROM blacklist b WHERE b.phone_number = c.phone_number)) AS eligible_now,
       (SELECT min(next_attempt_at) FROM contacts WHERE campaign_id = $1 AND status = 'pending') AS next_attempt_at`,
    [campaignId, options.now, options.maxAttempts],
  )
  const r = rows[0]!
  return {
    pending: Number(r.pending),
    queued: Number(r.queued),
    dialing: Number(r.dialing),
    eligibleNow: r.eligible_now,
    nextAttemptAt: r.next_attempt_at,
  }
}

/** Contacts of one campaign queued or dialing (contacts_campaign_inflight_idx). */
export async function countInflight(db: Db, campaignId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM contacts WHERE campaign_id = $1 AND status IN ('queued', 'dialing')`,
    [campaignId],
  )
  return Number(rows[0]!.n)
}

/** Contacts of every campaign waiting in the queue (contacts_inflight_idx). */
export async function countQueuedAll(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM contacts WHERE status = 'queued'`)
  return Number(rows[0]!.n)
}
