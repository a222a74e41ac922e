import { zonesOfNumber } from '../campaigns/callee-zones.js'
import type { DialTask } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { usageError } from '../errors.js'
import { maskPhone } from '../observability/mask.js'

/**
 * Contact rows for pushed tasks (`dialctl push`, `load-test`): the dial gate dials only a contact
 * that exists with the task's number and attempt, so a task pushed by hand brings its contact,
 * queued at the task's attempt, with its callee zones. A task naming a contact that already exists
 * with another number or attempt would be refused by the gate after "Sent" (issue #15: no false
 * success): it is a usage error (code PUSH_CONTACT_CONFLICT) before anything is written or sent.
 */
export async function registerPushedContacts(
  db: Db,
  tasks: readonly DialTask[],
  timezone?: string,
): Promise<number> {
  if (tasks.length === 0) return 0
  await refuseConflictingContacts(db, tasks)
  const { rowCount } = await db.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, metadata, status, attempts, timezone, number_timezones)
     SELECT r.campaign_id, r.id, r.phone, coalesce(r.metadata, '{}'::jsonb), 'queued', r.attempts, r.timezone,
            ARRAY(SELECT jsonb_array_elements_text(r.zones))
       FROM jsonb_to_recordset($1::jsonb)
            AS r(campaign_id text, id text, phone text, metadata jsonb, attempts int, timezone text, zones jsonb)
      WHERE EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.campaign_id)
     ON CONFLICT DO NOTHING`,
    [
      JSON.stringify(
        tasks.map((t) => ({
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
  return rowCount ?? 0
}

/** The usage error of registerPushedContacts when a task's contact exists with another number or attempt. */
async function refuseConflictingContacts(db: Db, tasks: readonly DialTask[]): Promise<void> {
  const { rows } = await db.query<{
    campaign_id: string
    id: string
    phone_number: string
    attempts: number
    task_attempts: number
    same_number: boolean
    same_id: boolean
  }>(
    // contacts_campaign_phone_idx: one contact per number per campaign, so the same number under
    // another id would be absorbed by ON CONFLICT DO NOTHING and refused by the gate (issue #15).
    `SELECT c.campaign_id, c.id, c.phone_number, c.attempts, r.attempts AS task_attempts,
            c.phone_number = r.phone AS same_number, c.id = r.id AS same_id
       FROM jsonb_to_recordset($1::jsonb) AS r(campaign_id text, id text, phone text, attempts int)
       JOIN contacts c ON c.campaign_id = r.campaign_id AND (c.id = r.id OR c.phone_number = r.phone)
      WHERE c.phone_number <> r.phone OR c.attempts <> r.attempts OR c.id <> r.id
      LIMIT 5`,
    [
      JSON.stringify(
        tasks.map((t) => ({
          campaign_id: t.campaignId,
          id: t.contactId,
          phone: t.phoneNumber,
          attempts: t.attempts,
        })),
      ),
    ],
  )
  if (!rows.length) return
  const what = rows
    .map((r) =>
      !r.same_id
        ? `the number ${maskPhone(r.phone_number)} is already contact ${r.id} of campaign ${r.campaign_id}`
        : r.same_number
          ? `contact ${r.id} of campaign ${r.campaign_id} exists at attempt ${r.attempts} (the task says ${r.task_attempts})`
          : `contact ${r.id} of campaign ${r.campaign_id} exists with another number (${maskPhone(r.phone_number)})`,
    )
    .join('; ')
  throw usageError(
    `${what}: the dial gate would refuse the task; nothing was sent.`,
    rows.some((r) => !r.same_id)
      ? `Push that number as --contact ${rows.find((r) => !r.same_id)!.id}, or another number.`
      : rows.some((r) => !r.same_number)
        ? 'Push with another --contact (or none: a push-… id is generated).'
        : `Push again with --attempts ${rows[0]!.attempts} to retry that contact.`,
    'PUSH_CONTACT_CONFLICT',
  )
}
