import type { Db } from '../db/pool.js'

/**
 * The contact moves enrich makes (docs/contact-states.md), each ONE statement for a whole batch.
 *
 * Every move only touches a contact that is still `queued` for the same attempt the task carries:
 * a stale or redelivered task (the contact has since been dialed, finished, or queued again for a
 * later attempt) must not drag it back. Tasks naming contacts with no row touch nothing.
 */
export interface ContactRef {
  campaignId: string
  contactId: string
  /** task.attempts: the attempts made so far when the dispatcher queued the contact */
  attempts: number
}

export interface RescheduleRef extends ContactRef {
  nextAttemptAt: Date
}

function columns(refs: readonly ContactRef[]): [string[], string[], number[]] {
  return [refs.map((r) => r.campaignId), refs.map((r) => r.contactId), refs.map((r) => r.attempts)]
}

/** queued → pending (campaign paused / completed / cancelled / draft): not dialed, not lost. */
export async function releaseContacts(db: Db, refs: readonly ContactRef[]): Promise<number> {
  if (refs.length === 0) return 0
  const result = await db.query(
    `UPDATE contacts c SET status = 'pending', status_changed_at = now()
     FROM unnest($1::text[], $2::text[], $3::int[]) AS r(campaign_id, id, attempts)
     WHERE c.campaign_id = r.campaign_id AND c.id = r.id AND c.attempts = r.attempts AND c.status = 'queued'`,
    columns(refs),
  )
  return result.rowCount ?? 0
}

/** queued → pending with next_attempt_at = the calling window's next opening. */
export async function rescheduleContacts(db: Db, refs: readonly RescheduleRef[]): Promise<number> {
  if (refs.length === 0) return 0
  const result = await db.query(
    `UPDATE contacts c SET status = 'pending', next_attempt_at = r.next_attempt_at, status_changed_at = now()
     FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) AS r(campaign_id, id, attempts, next_attempt_at)
     WHERE c.campaign_id = r.campaign_id AND c.id = r.id AND c.attempts = r.attempts AND c.status = 'queued'`,
    [...columns(refs), refs.map((r) => r.nextAttemptAt.toISOString())],
  )
  return result.rowCount ?? 0
}

/** queued → failed with last_outcome = 'blacklisted': the number is never dialed again. */
export function failBlacklistedContacts(db: Db, refs: readonly ContactRef[]): Promise<number> {
  return failContacts(db, refs, 'blacklisted')
}

/**
 * queued → failed with `lastOutcome` (blacklisted; task_too_large: its dial command can never fit
 * the worker's body limit, so retrying cannot help).
 */
export async function failContacts(
  db: Db,
  refs: readonly ContactRef[],
  lastOutcome: string,
): Promise<number> {
  if (refs.length === 0) return 0
  const result = await db.query(
    `UPDATE contacts c SET status = 'failed', last_outcome = $4, status_changed_at = now()
     FROM unnest($1::text[], $2::text[], $3::int[]) AS r(campaign_id, id, attempts)
     WHERE c.campaign_id = r.campaign_id AND c.id = r.id AND c.attempts = r.attempts AND c.status = 'queued'`,
    [...columns(refs), lastOutcome],
  )
  return result.rowCount ?? 0
}

export async function findBlacklisted(db: Db, phoneNumbers: readonly string[]): Promise<Set<string>> {
  const unique = [...new Set(phoneNumbers)]
  if (unique.length === 0) return new Set()
  const { rows } = await db.query<{ phone_number: string }>(
    'SELECT phone_number FROM blacklist WHERE phone_number = ANY($1::text[])',
    [unique],
  )
  return new Set(rows.map((r) => r.phone_number))
}

export async function isBlacklisted(db: Db, phoneNumber: string): Promise<boolean> {
  return (await findBlacklisted(db, [phoneNumber])).has(phoneNumber)
}

export interface BlacklistEntry {
  phoneNumber: string
  reason: string
  /** who added it: 'ivr' (caller pressed the key), 'operator', 'import' … */
  source: string
  campaignId?: string
}

/** Adds a number; adding it again keeps the first entry (its reason and time stay meaningful). */
export async function addToBlacklist(db: Db, entry: BlacklistEntry): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO blacklist (phone_number, reason, source, campaign_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (phone_number) DO NOTHING`,
    [entry.phoneNumber, entry.reason, entry.source, entry.campaignId ?? null],
  )
  return (result.rowCount ?? 0) > 0
}
