import { zonesOfNumber } from '../campaigns/callee-zones.js'
import { findBlacklisted } from '../campaigns/contacts.js'
import type { Db } from '../db/pool.js'
import { maskPhone } from '../observability/mask.js'
import type { ContactRow, ImportResult } from './port.js'

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
