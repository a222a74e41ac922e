import { zonesOfNumber } from '../campaigns/callee-zones.js'
import { findBlacklisted } from '../campaigns/contacts.js'
import type { Db } from '../db/pool.js'
import { maskPhone } from '../observability/mask.js'
import type { ContactRow, ImportResult } from './port.js'

/**
 * One import of one file carried over several calls (the control function's invocations,
 * src/control/import-stream.ts): its id, recorded on each contact it inserts with the row's line.
 */
export interface ImportRun {
  id: string
}

/** A row refused for repeating an earlier line of the same ImportRun (`field`: the row's, not a column). */
export interface RunRefusal {
  line: number
  field: 'id' | 'phoneNumber'
  message: string
}

/** What inserting a chunk did; `refused` (with a run only): rows repeating an earlier line of the run. */
export type InsertResult = Omit<ImportResult, 'invalid'> & { refused?: RunRefusal[] }

/**
 * Inserts contacts as pending, in chunks; a contact already in the campaign (same id or same
 * number) is skipped, not updated, so a re-import never resets a contact's progress.
 * Blacklisted numbers are imported (the dispatcher and enrich never dial them) and flagged.
 * With `run`, each contact records the run and its line, and a row repeating the id or number of
 * a contact an earlier line of the same run inserted is refused naming that line (DuplicateRows'
 * rule and words, across the run's calls); the same line again (a step run twice) is a duplicate.
 */
export async function insertContacts(
  db: Db,
  campaignId: string,
  rows: ContactRow[],
  run?: ImportRun,
): Promise<InsertResult> {
  const refused = run ? await earlierLines(db, campaignId, rows, run) : []
  const refusedLines = new Set(refused.map((r) => r.line))
  const accepted = refused.length ? rows.filter((r) => !refusedLines.has(r.line)) : rows
  let imported = 0
  const CHUNK = 500
  for (let i = 0; i < accepted.length; i += CHUNK) {
    const chunk = accepted.slice(i, i + CHUNK)
    const { rowCount } = await db.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, metadata, timezone, number_timezones, import_id, import_line)
       SELECT $1, r.id, r.phone, r.metadata, r.timezone,
              ARRAY(SELECT jsonb_array_elements_text(r.zones)), $3::uuid, CASE WHEN $3::uuid IS NULL THEN NULL ELSE r.line END
         FROM jsonb_to_recordset($2::jsonb)
              AS r(id text, phone text, metadata jsonb, timezone text, zones jsonb, line int)
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
            line: r.line,
          })),
        ),
        run?.id ?? null,
      ],
    )
    imported += rowCount ?? 0
  }
  const blackSet = await findBlacklisted(
    db,
    accepted.map((r) => r.phoneNumber),
  )
  return {
    campaignId,
    imported,
    duplicates: accepted.length - imported,
    blacklisted: accepted
      .filter((r) => blackSet.has(r.phoneNumber))
      .map((r) => ({ line: r.line, contactId: r.id, phone: maskPhone(r.phoneNumber) })),
    ...(run ? { refused } : {}),
  }
}

/**
 * Rows whose id or number a contact from an earlier line of `run` already holds, as refusals in
 * DuplicateRows' words (src/contracts/contact-row.ts): the same id first, else the same number.
 */
async function earlierLines(
  db: Db,
  campaignId: string,
  rows: ContactRow[],
  run: ImportRun,
): Promise<RunRefusal[]> {
  const { rows: found } = await db.query<{ line: number; same_id: boolean; first: number }>(
    `SELECT r.line, bool_or(c.id = r.id) AS same_id,
            coalesce(min(c.import_line) FILTER (WHERE c.id = r.id), min(c.import_line)) AS first
       FROM jsonb_to_recordset($2::jsonb) AS r(line int, id text, phone text)
       JOIN contacts c ON c.campaign_id = $1 AND (c.id = r.id OR c.phone_number = r.phone)
      WHERE c.import_id = $3::uuid AND c.import_line < r.line
      GROUP BY r.line
      ORDER BY r.line`,
    [campaignId, JSON.stringify(rows.map((r) => ({ line: r.line, id: r.id, phone: r.phoneNumber }))), run.id],
  )
  return found.map((f) => ({
    line: f.line,
    field: f.same_id ? ('id' as const) : ('phoneNumber' as const),
    message: `duplicates line ${f.first} (same ${f.same_id ? 'id' : 'number'}); the first line is kept`,
  }))
}
