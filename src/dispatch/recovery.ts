import type { Db } from '../db/pool.js'

export interface ReleaseStuckOptions {
  /** a contact queued / dialing for longer than this many seconds is considered lost */
  olderThan: number
  now?: Date
  /**
   * A call_attempts row still 'dialing' after this many seconds belongs to a worker that died
   * mid-call: it no longer keeps its contact in flight. Default 3600 (no IVR call lasts an hour).
   */
  maxCallSeconds?: number
}

export interface ReleasedStuck {
  campaignId: string
  contactId: string
  from: 'queued' | 'dialing'
  attempts: number
}

/** Default stuck timeout: well past SQS's 3 receives × visibility timeout plus a long call. */
export const DEFAULT_STUCK_AFTER_SECONDS = 15 * 60

/**
 * The stuck contacts, locked and released in one statement; contacts_inflight_idx finds them
 * (migration 0019: its `status_changed_at IS NOT NULL` is implied by the cutoff).
 */
export const RELEASE_STUCK_SQL = `WITH stuck AS (
   SELECT c.campaign_id, c.id, c.status
     FROM contacts c
    WHERE c.status IN ('queued', 'dialing') AND c.status_changed_at < $1
      AND NOT EXISTS (SELECT 1 FROM call_attempts a
                       WHERE a.campaign_id = c.campaign_id AND a.contact_id = c.id
                         AND a.status = 'dialing' AND a.started_at >= $3)
    FOR UPDATE SKIP LOCKED
 )
 UPDATE contacts c
    SET status = 'pending', status_changed_at = $2
   FROM stuck
  WHERE c.campaign_id = stuck.campaign_id AND c.id = stuck.id
  RETURNING c.campaign_id, c.id, stuck.status AS from_status, c.attempts`

/**
 * Crash recovery (docs/contact-states.md, last row): queued / dialing → pending when the contact
 * has sat there past `olderThan` with no open call. A dispatcher that died between claim and send,
 * or a worker that died before reporting, leaves such rows. Releasing a contact whose task is in
 * fact still in the queue is harmless: the re-sent task carries the same attempt number, so the
 * worker's idempotency key (campaign, contact, attempt) dials it at most once.
 */
export async function releaseStuckContacts(db: Db, options: ReleaseStuckOptions): Promise<ReleasedStuck[]> {
  const now = options.now ?? new Date()
  const cutoff = new Date(now.getTime() - options.olderThan * 1000)
  const callCutoff = new Date(now.getTime() - (options.maxCallSeconds ?? 3600) * 1000)
  const { rows } = await db.query<{
    campaign_id: string
    id: string
    from_status: 'queued' | 'dialing'
    attempts: number
  }>(RELEASE_STUCK_SQL, [cutoff, now, callCutoff])
  return rows.map((r) => ({
    campaignId: r.campaign_id,
    contactId: r.id,
    from: r.from_status,
    attempts: r.attempts,
  }))
}
