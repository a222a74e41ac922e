import {
  calleeZones,
  describeZones,
  isCalleeWindowOpen,
  nextCalleeOpening,
  type CalleeZones,
} from '../campaigns/window.js'
import type { DialCommand } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { errorMessage } from '../errors.js'
import {
  applyAdoptionEffect,
  applyEffect,
  inTransaction,
  inTransactionFrom,
  lockedFacts,
  lockStatement,
  readFacts,
  seeAndClaim,
  type CampaignFacts,
  type ContactEffect,
  type ContactFacts,
  type GateFacts,
  type LockedRow,
} from './gate-statements.js'

export type { ContactEffect } from './gate-statements.js'

/**
 * The dial gate: every safety rule decided in ONE transaction at the moment the worker claims a
 * call — after the limiter's slot wait, immediately before origination. Enrich and the dispatcher
 * check the same rules earlier to save work; this is the authority (docs/contact-states.md,
 * "The dial gate").
 *
 * Atomicity: the campaign row is read FOR SHARE and the contact row FOR UPDATE, so a `campaign
 * pause` (an UPDATE of the campaign row) either committed before the claim (the gate sees
 * `paused`) or waits until the claim committed (the dial came first). Two claims of one contact
 * serialize on its row; the second sees the first's call row and answers duplicate. The UNIQUE
 * (campaign_id, contact_id, attempt) of call_attempts is the last word on "claimed before".
 * The blacklist and the call row are read after the locks are held, in a fresh snapshot (READ
 * COMMITTED takes one per statement), so nothing committed before the claim is missed.
 */

/** Why the gate refused a dial; recorded as task_outcomes.reason `<code>: <detail>`. Sorted. */
export const GATE_REFUSALS = [
  'blacklisted',
  'call_id_conflict',
  'campaign_invalid',
  'campaign_not_active',
  'campaign_unknown',
  'contact_not_dialable',
  'contact_unknown',
  'max_attempts',
  'no_common_window',
  'number_mismatch',
  'outside_calling_window',
  'stale_attempt',
  'zone_invalid',
] as const
export type GateRefusal = (typeof GATE_REFUSALS)[number]

export type ClaimResult =
  | { kind: 'claimed'; callId: string; attempt: number; zones: CalleeZones }
  /** this (campaign, contact, attempt) has a call already: a redelivery */
  | { kind: 'duplicate'; callId: string; attempt: number }
  | { kind: 'refused'; attempt: number; reason: GateRefusal; detail: string; effect: ContactEffect }

export interface GateOptions {
  /** the gate's clock (tests inject one); default the system clock */
  now?: () => Date
  /** maxAttemptsPerContact when the campaign's config omits it */
  defaultMaxAttempts: number
}

type Verdict = { kind: 'admit'; zones: CalleeZones } | Extract<ClaimResult, { kind: 'refused' }>

const DIALABLE = new Set(['queued', 'pending'])

const refuse = (
  attempt: number,
  reason: GateRefusal,
  detail: string,
  effect: ContactEffect = { kind: 'untouched' },
): Verdict => ({ kind: 'refused', attempt, reason, detail, effect })

/**
 * A campaign's maxAttemptsPerContact: its config's value, else `defaultMax` (the worker's
 * DEFAULT_MAX_ATTEMPTS). The gate refuses an attempt at or past it; push refuses such a task first.
 */
export function maxAttemptsOf(config: unknown, defaultMax: number): number {
  const max = (config as { maxAttemptsPerContact?: unknown } | null)?.maxAttemptsPerContact
  return typeof max === 'number' ? max : defaultMax
}

/** Checks that do not depend on time: the task must name this contact's next attempt. */
function checkIdentity(
  facts: GateFacts,
  cmd: DialCommand,
  attempt: number,
  defaultMax: number,
): Verdict | null {
  const { campaign, contact } = facts
  if (!campaign) return refuse(attempt, 'campaign_unknown', `no campaign ${cmd.campaignId}`)
  if (!contact) return refuse(attempt, 'contact_unknown', `no contact ${cmd.contactId} in ${cmd.campaignId}`)
  if (contact.phone_number !== cmd.phoneNumber)
    return refuse(attempt, 'number_mismatch', "the task's number is not the contact's stored number")
  if (contact.attempts !== attempt)
    return refuse(
      attempt,
      'stale_attempt',
      `task attempt ${attempt}, contact's next attempt ${contact.attempts}`,
    )
  if (!DIALABLE.has(contact.status))
    return refuse(attempt, 'contact_not_dialable', `contact is ${contact.status}`)
  const limit = maxAttemptsOf(campaign.config, defaultMax)
  if (attempt >= limit)
    // The contact has had every attempt the campaign allows: failed, as the dispatcher and the
    // recorder fail it (docs/contact-states.md); left queued, no task would ever come (#16).
    return refuse(attempt, 'max_attempts', `attempt ${attempt} is not below maxAttemptsPerContact ${limit}`, {
      kind: 'failed',
      lastOutcome: 'max_attempts',
    })
  return null
}

/** The calling-window rule in the callee's zone(s), at `now`. */
function checkWindow(campaign: CampaignFacts, contact: ContactFacts, attempt: number, now: Date): Verdict {
  // read with the row, once per row text (campaignFacts)
  const windows = campaign.windows
  if (!windows)
    return refuse(attempt, 'campaign_invalid', 'callingWindows unreadable; fix the campaign config', {
      kind: 'released',
    })
  const zones = calleeZones(
    { timezone: contact.timezone, numberTimezones: contact.number_timezones },
    campaign.timezone,
  )
  let open: boolean
  let next: Date | null | undefined
  try {
    open = isCalleeWindowOpen(now, windows, zones)
    next = open ? undefined : nextCalleeOpening(now, windows, zones)
  } catch (error) {
    // A stored zone the runtime does not know: a refusal with its reason, never a throw (a throw
    // is a 503, retried into the DLQ with no outcome saying why).
    return refuse(
      attempt,
      'zone_invalid',
      `time zone unusable (${errorMessage(error)}); fix the contact or campaign`,
      {
        kind: 'failed',
        lastOutcome: 'zone_invalid',
      },
    )
  }
  if (open) return { kind: 'admit', zones }
  if (!next)
    return refuse(
      attempt,
      'no_common_window',
      `no calling window opens in every zone of the callee (${describeZones(zones)}); give the contact a timezone`,
      { kind: 'failed', lastOutcome: 'no_common_window' },
    )
  return refuse(
    attempt,
    'outside_calling_window',
    `closed in ${describeZones(zones)} at ${now.toISOString()}; next opening ${next.toISOString()}`,
    { kind: 'rescheduled', at: next },
  )
}

/** The whole decision, pure: facts + command + instant → verdict. */
export function decide(
  facts: GateFacts,
  cmd: DialCommand,
  attempt: number,
  now: Date,
  defaultMax: number,
): Verdict | { kind: 'duplicate'; callId: string } {
  if (facts.existingCallId) return { kind: 'duplicate', callId: facts.existingCallId }
  const wrong = checkIdentity(facts, cmd, attempt, defaultMax)
  if (wrong) return wrong
  return checkAtInstant(facts.campaign!, facts.contact!, facts.blacklisted, attempt, now)
}

/** The rules that hold only at an instant: campaign active, number not blacklisted, callee's window. */
function checkAtInstant(
  campaign: CampaignFacts,
  contact: ContactFacts,
  blacklisted: boolean,
  attempt: number,
  now: Date,
): Verdict {
  if (campaign.status !== 'active')
    return refuse(attempt, 'campaign_not_active', `campaign is ${campaign.status}`, { kind: 'released' })
  if (blacklisted)
    return refuse(attempt, 'blacklisted', 'the number is on the blacklist', {
      kind: 'failed',
      lastOutcome: 'blacklisted',
    })
  return checkWindow(campaign, contact, attempt, now)
}

/**
 * Claims the dial of `cmd` for `workerId`, or says why not. One transaction of two statements
 * (the locking read, sent with its BEGIN, then seeAndClaim); the clock is read once, after the
 * locks are held. The verdict is decide()'s on every fact: the rules that need neither the
 * blacklist nor the call rows are judged between the two statements, and the claim is written
 * only when they all hold. Throws
 * only when PostgreSQL fails (the caller answers 503 and the task is retried; nothing was
 * committed).
 */
export async function claimDial(
  db: Db,
  cmd: DialCommand,
  attempt: number,
  workerId: string,
  options: GateOptions,
): Promise<ClaimResult> {
  return inTransactionFrom<LockedRow, ClaimResult>(db, lockStatement(cmd), async (client, lockResult) => {
    const locked = lockedFacts(lockResult)
    const now = (options.now ?? (() => new Date()))()
    const max = options.defaultMaxAttempts
    // facts as literals: V8 (Node 20) builds `{ ...locked, more keys }` on a slow path (~1.8 µs)
    const { campaign, contact } = locked
    const before = decide(
      { campaign, contact, blacklisted: false, existingCallId: null },
      cmd,
      attempt,
      now,
      max,
    )
    const seen = await seeAndClaim(client, cmd, attempt, workerId, before.kind === 'admit')
    // The two late facts only ever turn a verdict into duplicate or blacklisted: decide again then.
    const verdict =
      seen.blacklisted || seen.existingCallId
        ? decide(
            { campaign, contact, blacklisted: seen.blacklisted, existingCallId: seen.existingCallId },
            cmd,
            attempt,
            now,
            max,
          )
        : before
    switch (verdict.kind) {
      case 'duplicate':
        return { kind: 'duplicate', callId: verdict.callId, attempt }
      case 'refused':
        await applyEffect(client, cmd, attempt, verdict.effect)
        return verdict
      case 'admit':
        if (seen.claimed) return { kind: 'claimed', callId: cmd.callId, attempt, zones: verdict.zones }
        return {
          kind: 'refused',
          attempt,
          reason: 'call_id_conflict',
          detail: `call id ${cmd.callId} belongs to another contact attempt`,
          effect: { kind: 'untouched' },
        }
    }
  })
}

/**
 * The same gate for a call row this worker claimed but never ran (its claim's COMMIT reply was
 * lost, so it answered 503; the redelivered task now looks like a duplicate). Adopting the row
 * places the call, possibly a visibility timeout later: the rules that depend on time — campaign
 * active, number not blacklisted, the callee's window — are decided again now, under the same
 * locks as a claim. Identity rules are not: the lost claim already moved the contact to 'dialing'
 * at attempt + 1. A refusal closes the orphan row as failed (reason `gate`, the refusal in
 * `error`) and moves the contact out of 'dialing' as the refusal says; the attempt stays spent,
 * since its call row exists. `duplicate` when the row is not (or no longer) this worker's open call.
 */
export async function adoptOrphanDial(
  db: Db,
  cmd: DialCommand,
  attempt: number,
  workerId: string,
  options: GateOptions,
): Promise<ClaimResult> {
  return inTransaction(db, async (client) => {
    const facts = await readFacts(client, cmd, attempt)
    const orphan = await client.query(
      `SELECT 1 FROM call_attempts WHERE call_id = $1 AND worker_id = $2 AND status = 'dialing' FOR UPDATE`,
      [cmd.callId, workerId],
    )
    if ((orphan.rowCount ?? 0) === 0) return { kind: 'duplicate', callId: cmd.callId, attempt }
    const now = (options.now ?? (() => new Date()))()
    const verdict = decideAdoption(facts, cmd, attempt, now)
    if (verdict.kind === 'admit') {
      await client.query(`UPDATE call_attempts SET started_at = now() WHERE call_id = $1`, [cmd.callId])
      return { kind: 'claimed', callId: cmd.callId, attempt, zones: verdict.zones }
    }
    await client.query(
      `UPDATE call_attempts SET status = 'failed', reason = 'gate', error = $2, ended_at = now()
       WHERE call_id = $1`,
      [cmd.callId, refusalReason(verdict)],
    )
    await applyAdoptionEffect(client, cmd, attempt, verdict.effect)
    return verdict
  })
}

function decideAdoption(facts: GateFacts, cmd: DialCommand, attempt: number, now: Date): Verdict {
  const { campaign, contact } = facts
  if (!campaign) return refuse(attempt, 'campaign_unknown', `no campaign ${cmd.campaignId}`)
  if (!contact) return refuse(attempt, 'contact_unknown', `no contact ${cmd.contactId} in ${cmd.campaignId}`)
  return checkAtInstant(campaign, contact, facts.blacklisted, attempt, now)
}

/** `<code>: <detail>`, as task_outcomes.reason records it; never contains a phone number. */
export function refusalReason(result: Extract<ClaimResult, { kind: 'refused' }>): string {
  return `${result.reason}: ${result.detail}`
}
