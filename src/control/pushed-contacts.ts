import { maxAttemptsOf } from '../calls/gate.js'
import { DEFAULT_MAX_ATTEMPTS } from '../calls/recorder.js'
import { zonesOfNumber } from '../campaigns/callee-zones.js'
import { notAcceptingTasksError } from '../campaigns/lifecycle.js'
import type { CampaignStatus } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { usageError } from '../errors.js'
import { maskPhone } from '../observability/mask.js'
import { taskSizeProblem } from '../tasks/limits.js'
import type { PushEntry, PushRefusal, PushRegistration } from './port.js'

/**
 * Contact rows for pushed tasks (`dialctl push`, `load-test`, the control API's
 * contacts.registerPushed): the dial gate dials only a contact that exists with the task's number
 * and attempt, so a task pushed by hand brings its contact, queued at the task's attempt, with its
 * callee zones (the entry's `timezone` when given).
 *
 * Each entry is judged on its own (issue #15: nothing silently dropped or doubled); a refused one
 * is in `refused` with the reason, and the caller sends only the others:
 * - TASK_TOO_LARGE: over MAX_DIAL_TASK_BYTES (taskSizeProblem, the rule import and the dispatcher use);
 * - PUSH_ATTEMPTS_EXHAUSTED: the task's attempt is not below the campaign's maxAttemptsPerContact —
 *   the dial gate would drop it (`max_attempts`), so it is refused here with the limit (issue #16);
 * - PUSH_DUPLICATE_TASK / PUSH_CONTACT_CONFLICT for a repeat inside the batch: the same contact id
 *   or the same number of one campaign a second time (the first entry goes ahead, as in import);
 * - PUSH_CONTACT_CONFLICT: the contact exists with another number or attempt, or the number is
 *   another contact's of the campaign (contacts_phone_campaign_idx: one contact per number) —
 *   the gate would refuse the task after "Sent";
 * - CAMPAIGN_NOT_FOUND: the campaign does not exist (no contact can be written for it);
 * - CAMPAIGN_NOT_ACTIVE: it is draft, paused, completed or cancelled — enrich would drop the task
 *   (the rule `dialctl push` and load-test check first, held here for every caller).
 * The conflict is read after the insert (ON CONFLICT DO NOTHING, then the row that won), so a
 * concurrent push of the same number under another id is refused too, not absorbed.
 * Throws a usage error when two entries share an `id` (the caller's echo key must be unique).
 */
export async function registerPushedContacts(
  db: Db,
  entries: readonly PushEntry[],
): Promise<PushRegistration> {
  const ids = new Set(entries.map((e) => e.id))
  if (ids.size !== entries.length)
    throw usageError(
      'Two entries of the push batch share an id; each entry needs its own.',
      'Number the entries of the batch (0, 1, 2, …).',
      'PUSH_BATCH_IDS',
    )
  const screened = screenBatch(entries)
  const exhausted = await attemptsRefusals(db, screened.accepted)
  const refused = [...screened.refused, ...exhausted]
  const accepted = screened.accepted.filter((e) => !exhausted.some((r) => r.id === e.id))
  const inserted = await insertContacts(db, accepted)
  const left = accepted.filter((e) => !inserted.has(key(e.task.campaignId, e.task.contactId)))
  const judged = await judgeNotInserted(db, left)
  refused.push(...judged.refused)
  return { inserted: inserted.size, existing: judged.existing, refused }
}

const key = (campaignId: string, value: string) => `${campaignId}\u0000${value}`

/** The size rule and repeats inside the batch: the first entry of a contact or number goes ahead. */
function screenBatch(entries: readonly PushEntry[]): { accepted: PushEntry[]; refused: PushRefusal[] } {
  const accepted: PushEntry[] = []
  const refused: PushRefusal[] = []
  const byContact = new Map<string, PushEntry>()
  const byNumber = new Map<string, PushEntry>()
  for (const entry of entries) {
    const { campaignId, contactId, phoneNumber } = entry.task
    const tooBig = taskSizeProblem(entry.task)
    if (tooBig) {
      refused.push({
        id: entry.id,
        code: 'TASK_TOO_LARGE',
        message: `The dial task is too large: ${tooBig}; nothing was sent for it.`,
        suggestion: "Shorten the task's metadata; keep bulky data in your CRM and pass an id.",
        exitCode: 2,
      })
      continue
    }
    const first = byContact.get(key(campaignId, contactId)) ?? byNumber.get(key(campaignId, phoneNumber))
    if (first) {
      refused.push(repeatRefusal(entry, first))
      continue
    }
    byContact.set(key(campaignId, contactId), entry)
    byNumber.set(key(campaignId, phoneNumber), entry)
    accepted.push(entry)
  }
  return { accepted, refused }
}

/**
 * Entries whose attempt is at or past their campaign's maxAttemptsPerContact (DEFAULT_MAX_ATTEMPTS
 * when the config omits it, as at the gate): the gate would drop such a task and its contact would
 * sit queued with nothing to dial it. An unknown campaign is left to the later checks.
 */
async function attemptsRefusals(db: Db, entries: readonly PushEntry[]): Promise<PushRefusal[]> {
  if (!entries.length) return []
  const ids = [...new Set(entries.map((e) => e.task.campaignId))]
  const { rows } = await db.query<{ id: string; config: unknown }>(
    `SELECT id, config FROM campaigns WHERE id = ANY($1::text[])`,
    [ids],
  )
  const limits = new Map(rows.map((r) => [r.id, maxAttemptsOf(r.config, DEFAULT_MAX_ATTEMPTS)]))
  return entries.flatMap((entry): PushRefusal[] => {
    const { campaignId, attempts } = entry.task
    const max = limits.get(campaignId)
    if (max === undefined || attempts < max) return []
    return [
      {
        id: entry.id,
        code: 'PUSH_ATTEMPTS_EXHAUSTED',
        message: `--attempts ${attempts} is not below campaign ${campaignId}'s maxAttemptsPerContact ${max}: the dial gate would drop the task and never dial it; nothing was sent.`,
        suggestion: `Push with --attempts between 0 and ${max - 1} (the attempts made so far), or raise maxAttemptsPerContact in the campaign file.`,
        exitCode: 2,
      },
    ]
  })
}

function repeatRefusal(entry: PushEntry, first: PushEntry): PushRefusal {
  const t = entry.task
  const f = first.task
  const where = `entry ${entry.id} repeats entry ${first.id} of this batch`
  const suggestion = 'Push each contact and each number of a campaign once per batch.'
  if (f.contactId === t.contactId && f.phoneNumber === t.phoneNumber && f.attempts === t.attempts)
    return {
      id: entry.id,
      code: 'PUSH_DUPLICATE_TASK',
      message: `${where} (contact ${t.contactId} of campaign ${t.campaignId}, same number and attempt): it would be dialed twice; the repeat was not sent.`,
      suggestion,
      exitCode: 2,
    }
  const what =
    f.contactId !== t.contactId
      ? `the number ${maskPhone(t.phoneNumber)} is given for contacts ${f.contactId} and ${t.contactId}; a campaign holds each number once`
      : f.phoneNumber !== t.phoneNumber
        ? `contact ${t.contactId} is given with two numbers (${maskPhone(f.phoneNumber)}, ${maskPhone(t.phoneNumber)})`
        : `contact ${t.contactId} is given at attempts ${f.attempts} and ${t.attempts}`
  return {
    id: entry.id,
    code: 'PUSH_CONTACT_CONFLICT',
    message: `${where} in campaign ${t.campaignId}: ${what}; the gate would refuse it, so it was not sent.`,
    suggestion,
    exitCode: 2,
  }
}

/** Inserts the contacts that are new; returns the keys (campaign, contact id) it created. */
async function insertContacts(db: Db, entries: readonly PushEntry[]): Promise<Set<string>> {
  if (!entries.length) return new Set()
  const { rows } = await db.query<{ campaign_id: string; id: string }>(
    `INSERT INTO contacts (campaign_id, id, phone_number, metadata, status, attempts, timezone, number_timezones)
     SELECT r.campaign_id, r.id, r.phone, coalesce(r.metadata, '{}'::jsonb), 'queued', r.attempts, r.timezone,
            ARRAY(SELECT jsonb_array_elements_text(r.zones))
       FROM jsonb_to_recordset($1::jsonb)
            AS r(campaign_id text, id text, phone text, metadata jsonb, attempts int, timezone text, zones jsonb)
      WHERE EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.campaign_id AND c.status = 'active')
     ON CONFLICT DO NOTHING
     RETURNING campaign_id, id`,
    [
      JSON.stringify(
        entries.map(({ task: t, timezone }) => ({
          campaign_id: t.campaignId,
          id: t.contactId,
          phone: t.phoneNumber,
          metadata: t.metadata ?? {},
          attempts: t.attempts,
          timezone: timezone ?? null,
          zones: zonesOfNumber(t.phoneNumber),
        })),
      ),
    ],
  )
  return new Set(rows.map((r) => key(r.campaign_id, r.id)))
}

interface HeldContact {
  entry: number
  id: string | null
  phone_number: string | null
  attempts: number | null
  /** null: no such campaign */
  campaign_status: CampaignStatus | null
  /** what `campaign start` asks of a draft (null unless the campaign is a draft) */
  is_test: boolean | null
  auto_complete: boolean | null
  has_contacts: boolean | null
}

/**
 * Entries the insert skipped: the contact that holds their id or number (read after the insert,
 * so it sees a row a concurrent push committed) makes each one `existing` or refused.
 */
async function judgeNotInserted(
  db: Db,
  entries: readonly PushEntry[],
): Promise<{ existing: number; refused: PushRefusal[] }> {
  if (!entries.length) return { existing: 0, refused: [] }
  // Per entry, the contact with its id first, else the one with its number (LATERAL … LIMIT 1).
  const { rows } = await db.query<HeldContact>(
    `SELECT r.entry, c.id, c.phone_number, c.attempts, k.status AS campaign_status,
            CASE WHEN k.status = 'draft' THEN k.is_test END AS is_test,
            CASE WHEN k.status = 'draft' THEN coalesce(k.config->>'autoComplete' = 'true', false) END AS auto_complete,
            CASE WHEN k.status = 'draft' THEN EXISTS (SELECT 1 FROM contacts x WHERE x.campaign_id = k.id) END AS has_contacts
       FROM jsonb_to_recordset($1::jsonb) AS r(entry int, campaign_id text, id text, phone text)
       LEFT JOIN campaigns k ON k.id = r.campaign_id
       LEFT JOIN LATERAL (
         SELECT c.id, c.phone_number, c.attempts FROM contacts c
          WHERE c.campaign_id = r.campaign_id AND (c.id = r.id OR c.phone_number = r.phone)
          ORDER BY c.id = r.id DESC LIMIT 1) c ON true`,
    [
      JSON.stringify(
        entries.map(({ task: t }, entry) => ({
          entry,
          campaign_id: t.campaignId,
          id: t.contactId,
          phone: t.phoneNumber,
        })),
      ),
    ],
  )
  let existing = 0
  const refused: PushRefusal[] = []
  for (const held of rows) {
    const entry = entries[held.entry]!
    const refusal = heldRefusal(entry, held)
    if (refusal) refused.push(refusal)
    else existing++
  }
  return { existing, refused }
}

/** Why the contact that holds the entry's id or number refuses it; undefined when it is the same contact. */
function heldRefusal(entry: PushEntry, held: HeldContact): PushRefusal | undefined {
  const t = entry.task
  const conflict = (message: string, suggestion: string): PushRefusal => ({
    id: entry.id,
    code: 'PUSH_CONTACT_CONFLICT',
    message: `${message}: the dial gate would refuse the task; nothing was sent.`,
    suggestion,
    exitCode: 2,
  })
  const notActive =
    held.campaign_status === null
      ? undefined
      : notAcceptingTasksError(t.campaignId, held.campaign_status, {
          hasContacts: held.has_contacts === true,
          isTest: held.is_test === true,
          autoComplete: held.auto_complete === true,
        })
  if (notActive)
    return {
      id: entry.id,
      code: 'CAMPAIGN_NOT_ACTIVE',
      message: notActive.message,
      suggestion: notActive.suggestion,
      exitCode: 1,
    }
  if (held.campaign_status === null)
    return {
      id: entry.id,
      code: 'CAMPAIGN_NOT_FOUND',
      message: `Campaign ${t.campaignId} does not exist; nothing was sent.`,
      suggestion:
        'List the campaigns with `dialctl campaign list`, or create it with `dialctl campaign create --file …`.',
      exitCode: 1,
    }
  if (held.id === null || held.phone_number === null || held.attempts === null)
    // the row that made the insert skip this entry was deleted since: nothing holds it now
    return conflict(
      `contact ${t.contactId} of campaign ${t.campaignId} changed while it was pushed`,
      'Push it again.',
    )
  if (held.id !== t.contactId)
    return conflict(
      `the number ${maskPhone(t.phoneNumber)} is already contact ${held.id} of campaign ${t.campaignId}`,
      `Push that number as --contact ${held.id}, or another number.`,
    )
  if (held.phone_number !== t.phoneNumber)
    return conflict(
      `contact ${t.contactId} of campaign ${t.campaignId} exists with another number (${maskPhone(held.phone_number)})`,
      'Push with another --contact (or none: a push-… id is generated).',
    )
  if (held.attempts !== t.attempts)
    return conflict(
      `contact ${t.contactId} of campaign ${t.campaignId} exists at attempt ${held.attempts} (the task says ${t.attempts})`,
      `Push again with --attempts ${held.attempts} to retry that contact.`,
    )
  return undefined
}
