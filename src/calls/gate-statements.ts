import type pg from 'pg'
import { z } from 'zod'
import { CallingWindow, type DialCommand } from '../contracts/index.js'
import { ParsedTextCache } from '../parsed-text-cache.js'

/**
 * The dial gate's statements (gate.ts holds the rules and the order they run in): the locking
 * read, the late reads with the claim, the refusals' contact moves, and the transaction around
 * them. Each moves only a contact still at the attempt the command names.
 */

/** What a refusal does to the contact (docs/contact-states.md). */
export type ContactEffect =
  /** stale, forged: the task is dropped, the contact is not ours to move */
  | { kind: 'untouched' }
  /** campaign not active: queued → pending, not counted as an attempt */
  | { kind: 'released' }
  /** window closed: → pending with next_attempt_at at the callee's next opening */
  | { kind: 'rescheduled'; at: Date }
  /** blacklisted, a window that never opens in every zone, or no attempt left: → failed */
  | { kind: 'failed'; lastOutcome: string }

export interface CampaignFacts {
  status: string
  timezone: string
  /** the config's keys the gate reads, as stored (gate_lock sends no others) */
  config: unknown
  /** config.callingWindows as GateConfig reads it; null when the config is not a GateConfig */
  windows: readonly CallingWindow[] | null
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

/** Only what the gate reads from a campaign's config; the rest is not its business. */
const GateConfig = z.object({
  callingWindows: z.array(CallingWindow).min(1),
  maxAttemptsPerContact: z.number().int().positive().optional(),
})

/**
 * The gate's campaign rows, keyed by the exact JSON text gate_lock rendered (the statement casts
 * it to text, so pg does not parse it either): a campaign's row is the same for every dial of it,
 * and GateConfig's zod parse on every dial was most of the gate's own CPU (~190 ms of a 27k-task
 * profile, issue #17). Any change to the row (status, zone, windows, attempts) changes its text,
 * so it is read afresh at once. The text holds only the keys gate_lock selects (a few hundred
 * characters for usual windows); 100 rows and 1 M characters at most. Values are frozen by the
 * cache: every dial shares them.
 */
const campaignRows = new ParsedTextCache<CampaignFacts>(100, 1_000_000)

/** The campaign facts of one gate_lock campaign text (its `campaign` column as text). */
export function campaignFacts(text: string): CampaignFacts {
  return campaignRows.get(text, (t) => {
    const row = JSON.parse(t) as { status: string; timezone: string; config: unknown }
    const config = GateConfig.safeParse(row.config)
    return {
      status: row.status,
      timezone: row.timezone,
      config: row.config,
      windows: config.success ? config.data.callingWindows : null,
    }
  })
}

/**
 * The locked rows: campaign FOR SHARE, then contact FOR UPDATE, in one call (gate_lock, migration
 * 0015_call_functions.sql: a function keeps its plan, an unnamed statement is planned each time).
 */
export async function lockFacts(
  client: pg.PoolClient,
  cmd: DialCommand,
): Promise<Pick<GateFacts, 'campaign' | 'contact'>> {
  const { text, values } = lockStatement(cmd)
  return lockedFacts(await client.query<LockedRow>(text, values))
}

export interface LockedRow {
  /** the campaign row as JSON text (campaignFacts' key), not parsed by pg */
  campaign: string | null
  contact: ContactFacts | null
}

/** lockFacts' statement, for a transaction that sends it with its BEGIN (inTransactionFrom). */
export function lockStatement(cmd: DialCommand): { text: string; values: string[] } {
  return {
    text: 'SELECT campaign::text AS campaign, contact FROM gate_lock($1, $2)',
    values: [cmd.campaignId, cmd.contactId],
  }
}

/** lockFacts' answer read from its statement's result. */
export function lockedFacts(locked: pg.QueryResult<LockedRow>): Pick<GateFacts, 'campaign' | 'contact'> {
  const row = locked.rows[0]
  return {
    campaign: row?.campaign != null ? campaignFacts(row.campaign) : null,
    contact: row?.contact ?? null,
  }
}

/**
 * gate_claim (migration 0015_call_functions.sql): the blacklist and an earlier call of this
 * attempt, read after the locks are held (a fresh snapshot), and — when `admit` — the claim.
 */
const GATE_CLAIM = 'SELECT blacklisted, call_id, claimed FROM gate_claim($1, $2, $3, $4, $5, $6, $7)'

interface SeenRow {
  blacklisted: boolean
  call_id: string | null
  claimed: boolean
}

/** Locks first (one statement), then reads what others may have committed meanwhile. */
export async function readFacts(
  client: pg.PoolClient,
  cmd: DialCommand,
  attempt: number,
): Promise<GateFacts> {
  const locked = await lockFacts(client, cmd)
  // admit false: gate_claim only reads
  const seen = await client.query<SeenRow>(GATE_CLAIM, [
    cmd.phoneNumber,
    cmd.campaignId,
    cmd.contactId,
    attempt,
    cmd.callId,
    null,
    false,
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
 * The late reads, and — when `admit` (every rule but these two held) and neither blacklist nor an
 * earlier call says otherwise — the claim itself in the same statement (gate_claim): the call row,
 * and the contact queued/pending → dialing. One round trip instead of three; the reads still come
 * after the locks (this statement's snapshot is taken after lockFacts returned).
 */
export async function seeAndClaim(
  client: pg.PoolClient,
  cmd: DialCommand,
  attempt: number,
  workerId: string,
  admit: boolean,
): Promise<Seen> {
  const { rows } = await client.query<SeenRow>(GATE_CLAIM, [
    cmd.phoneNumber,
    cmd.campaignId,
    cmd.contactId,
    attempt,
    cmd.callId,
    workerId,
    admit,
  ])
  const row = rows[0]!
  return { blacklisted: row.blacklisted, existingCallId: row.call_id, claimed: row.claimed }
}

/** One transaction on a pool or on the caller's client (src/db/pool.ts). */
export { inTransaction, inTransactionFrom } from '../db/pool.js'

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
