import type pg from 'pg'
import type { DialCommand } from '../contracts/index.js'

/**
 * The dial gate's statements (gate.ts holds the rules and the order they run in): the locking
 * read, the late reads with the claim, the refusals' contact moves, and the transaction around
 * them. Each moves only a contact still at the attempt the command names.
 */

/** What a refusal does to the contact (docs/contact-states.md). */
export type ContactEffect =
  /** stale, forged, over the limit: the task is dropped, the contact is not ours to move */
  | { kind: 'untouched' }
  /** campaign not active: queued → pending, not counted as an attempt */
  | { kind: 'released' }
  /** window closed: → pending with next_attempt_at at the callee's next opening */
  | { kind: 'rescheduled'; at: Date }
  /** blacklisted, or a window that never opens in every zone: → failed */
  | { kind: 'failed'; lastOutcome: string }

export interface CampaignFacts {
  status: string
  timezone: string
  config: unknown
}
export interface ContactFacts {
  phone_number: string
  status: string
  attempts: number
  timezone: string | null
  number_timezones: string[] | null
}
export interface GateFacts {
  campaign: CampaignFacts | null
  contact: ContactFacts | null
  blacklisted: boolean
  existingCallId: string | null
}

/** The locked rows: campaign FOR SHARE, contact FOR UPDATE, in one statement. */
export async function lockFacts(
  client: pg.PoolClient,
  cmd: DialCommand,
): Promise<Pick<GateFacts, 'campaign' | 'contact'>> {
  const locked = await client.query<{ campaign: CampaignFacts | null; contact: ContactFacts | null }>(
    `WITH cp AS (SELECT status, timezone, config FROM campaigns WHERE id = $1 FOR SHARE),
          ct AS (SELECT phone_number, status, attempts, timezone, number_timezones
                   FROM contacts WHERE campaign_id = $1 AND id = $2 FOR UPDATE)
     SELECT (SELECT row_to_json(cp) FROM cp) AS campaign, (SELECT row_to_json(ct) FROM ct) AS contact`,
    [cmd.campaignId, cmd.contactId],
  )
  return { campaign: locked.rows[0]?.campaign ?? null, contact: locked.rows[0]?.contact ?? null }
}

/**
 * Blacklist and an earlier call of this attempt, read after the locks are held (a fresh snapshot):
 * $1 phone number, $2 campaign, $3 contact, $4 attempt.
 */
const SEEN = `SELECT EXISTS (SELECT 1 FROM blacklist WHERE phone_number = $1) AS blacklisted,
                     (SELECT call_id FROM call_attempts
                       WHERE campaign_id = $2 AND contact_id = $3 AND attempt = $4) AS call_id`

/** Locks first (one statement), then reads what others may have committed meanwhile. */
export async function readFacts(
  client: pg.PoolClient,
  cmd: DialCommand,
  attempt: number,
): Promise<GateFacts> {
  const locked = await lockFacts(client, cmd)
  const seen = await client.query<{ blacklisted: boolean; call_id: string | null }>(SEEN, [
    cmd.phoneNumber,
    cmd.campaignId,
    cmd.contactId,
    attempt,
  ])
  return {
    ...locked,
    blacklisted: seen.rows[0]?.blacklisted ?? false,
    existingCallId: seen.rows[0]?.call_id ?? null,
  }
}

/** Applies a refusal's contact move; each touches only the contact still at this attempt. */
export async function applyEffect(
  client: pg.PoolClient,
  cmd: DialCommand,
  attempt: number,
  effect: ContactEffect,
): Promise<void> {
  const key = [cmd.campaignId, cmd.contactId, attempt]
  const where = `WHERE campaign_id = $1 AND id = $2 AND attempts = $3`
  switch (effect.kind) {
    case 'untouched':
      return
    case 'released':
      await client.query(
        `UPDATE contacts SET status = 'pending', status_changed_at = now() ${where} AND status = 'queued'`,
        key,
      )
      return
    case 'rescheduled':
      await client.query(
        `UPDATE contacts SET status = 'pending', next_attempt_at = $4, status_changed_at = now()
         ${where} AND status IN ('queued', 'pending')`,
        [...key, effect.at],
      )
      return
    case 'failed':
      await client.query(
        `UPDATE contacts SET status = 'failed', last_outcome = $4, status_changed_at = now()
         ${where} AND status IN ('queued', 'pending')`,
        [...key, effect.lastOutcome],
      )
      return
  }
}

export interface Seen {
  blacklisted: boolean
  existingCallId: string | null
  /** the call row was inserted and the contact moved to dialing */
  claimed: boolean
}

/**
 * SEEN, and — when `admit` (every rule but these two held) and neither blacklist nor an earlier
 * call says otherwise — the claim itself in the same statement: the call row, and the contact
 * queued/pending → dialing. One round trip instead of three; the reads still come after the locks
 * (this statement's snapshot is taken after lockFacts returned).
 */
export async function seeAndClaim(
  client: pg.PoolClient,
  cmd: DialCommand,
  attempt: number,
  workerId: string,
  admit: boolean,
): Promise<Seen> {
  const { rows } = await client.query<{ blacklisted: boolean; call_id: string | null; claimed: boolean }>(
    `WITH seen AS (${SEEN}),
     call AS (
       INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, worker_id)
       SELECT $5, $2, $3, $4, $1, 'dialing', $6 FROM seen
        WHERE $7::boolean AND NOT seen.blacklisted AND seen.call_id IS NULL
       ON CONFLICT DO NOTHING
       RETURNING 1
     ), moved AS (
       UPDATE contacts SET status = 'dialing', attempts = $4 + 1, status_changed_at = now()
        WHERE campaign_id = $2 AND id = $3 AND attempts = $4 AND status IN ('queued', 'pending')
          AND EXISTS (SELECT 1 FROM call)
       RETURNING 1
     )
     SELECT seen.blacklisted, seen.call_id, EXISTS (SELECT 1 FROM call) AS claimed FROM seen`,
    [cmd.phoneNumber, cmd.campaignId, cmd.contactId, attempt, cmd.callId, workerId, admit],
  )
  const row = rows[0]!
  return { blacklisted: row.blacklisted, existingCallId: row.call_id, claimed: row.claimed }
}

/** One transaction on a pool or on the caller's client (src/db/pool.ts). */
export { inTransaction } from '../db/pool.js'

/** A refused adoption's contact move: out of 'dialing' (the lost claim put it there at attempt + 1). */
export async function applyAdoptionEffect(
  client: pg.PoolClient,
  cmd: DialCommand,
  attempt: number,
  effect: ContactEffect,
): Promise<void> {
  const [status, nextAt, lastOutcome] =
    effect.kind === 'failed'
      ? ['failed', null, effect.lastOutcome]
      : effect.kind === 'rescheduled'
        ? ['pending', effect.at, null]
        : ['pending', null, null]
  await client.query(
    `UPDATE contacts SET status = $4, next_attempt_at = COALESCE($5, next_attempt_at),
            last_outcome = COALESCE($6, last_outcome), status_changed_at = now()
      WHERE campaign_id = $1 AND id = $2 AND attempts = $3 + 1 AND status = 'dialing'`,
    [cmd.campaignId, cmd.contactId, attempt, status, nextAt, lastOutcome],
  )
}
