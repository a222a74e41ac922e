import { zonesOfNumber } from '../campaigns/callee-zones.js'
import { findBlacklisted } from '../campaigns/contacts.js'
import type { DialTask } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { maskPhone } from '../observability/mask.js'
import type { ContactRow, ImportResult } from './port.js'

/**
 * Contact rows for pushed tasks (`dialctl push`, `load-test`): the dial gate dials only a contact
 * that exists with the task's number and attempt, so a task pushed by hand brings its contact,
 * queued at the task's attempt, with its callee zones. An existing contact is left as it is: the
 * gate then judges the task against it (a different number or attempt is refused, not dialed).
 */
export async function registerPushedContacts(
  db: Db,
  tasks: readonly DialTask[],
  timezone?: string,
): Promise<number> {
  if (tasks.length === 0) return 0
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

/**
 * Inserts contacts as pending, in chunks; a contact already in the campaign (same id or same
 * number) is skipped, not updated, so a re-import never resets a contact's progress.
 * Blacklisted numbers are imported (the dispatcher and enrich never dial them) and flagged.
 */
export async function insertContacts(
  db: Db,
  campaignId: string,
  rows: ContactRow[],
): Promise<Omit<ImportResult, 'invalid'>> {
  let imported = 0
  const CHUNK = 500
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK)
    const { rowCount } = await db.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, metadata, timezone, number_timezones)
       SELECT $1, r.id, r.phone, r.metadata, r.timezone,
              ARRAY(SELECT jsonb_array_elements_text(r.zones))
         FROM jsonb_to_recordset($2::jsonb) AS r(id text, phone text, metadata jsonb, timezone text, zones jsonb)
       ON CONFLICT DO NOTHING`,
      [
        campaignId,
        JSON.stringify(
          chunk.map((r) => ({
            id: r.id,
            phone: r.phoneNumber,
            metadata: r.metadata,
            timezone: r.timezone ?? null,
            zones: zonesOfNumber(r.phoneNumber),
          })),
        ),
      ],
    )
    imported += rowCount ?? 0
  }
  const blackSet = await findBlacklisted(
    db,
    rows.map((r) => r.phoneNumber),
  )
  return {
    campaignId,
    imported,
    duplicates: rows.length - imported,
    blacklisted: rows
      .filter((r) => blackSet.has(r.phoneNumber))
      .map((r) => ({ line: r.line, contactId: r.id, phone: maskPhone(r.phoneNumber) })),
  }
}
