import { zonesOfNumber } from '../campaigns/callee-zones.js'
import { findBlacklisted } from '../campaigns/contacts.js'
import { PhoneNumber, type DialTask } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { maskPhone } from '../observability/mask.js'
import type { ContactRow, ImportResult } from './port.js'

export interface ParsedCsv {
  rows: ContactRow[]
  invalid: ImportResult['invalid']
}

/** Masks what the operator typed, without pretending it is E.164 (no '+' added). */
function maskRaw(text: string): string {
  if (text.startsWith('+')) return text.length > 6 ? maskPhone(text) : text
  return text.length > 6 ? text.slice(0, 4) + '*'.repeat(text.length - 7) + text.slice(-3) : text
}

/** One CSV line into fields: RFC 4180 quotes ("a, b" and "" for a quote), no multi-line fields. */
export function splitCsvLine(line: string): string[] {
  const out: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"' && field === '') quoted = true
    else if (c === ',') {
      out.push(field)
      field = ''
    } else field += c
  }
  out.push(field)
  return out.map((f) => f.trim())
}

const PHONE_COLUMNS = ['phone_number', 'phonenumber', 'phone']
const ID_COLUMNS = ['id', 'contact_id', 'contactid']

/**
 * Parses a contacts CSV: a header with a phone column (`phone_number`/`phoneNumber`/`phone`) and an
 * optional id column (`id`/`contact_id`); every other column becomes metadata. Rows that cannot be
 * imported are reported with their line number (the header is line 1) and the field at fault.
 */
export function parseContactsCsv(text: string): ParsedCsv {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.toLowerCase())
  const phoneCol = header.findIndex((h) => PHONE_COLUMNS.includes(h))
  const idCol = header.findIndex((h) => ID_COLUMNS.includes(h))
  const rows: ContactRow[] = []
  const invalid: ImportResult['invalid'] = []
  if (phoneCol < 0) {
    invalid.push({
      line: 1,
      field: 'header',
      message: `no phone column; name one of: ${PHONE_COLUMNS.join(', ')} (found: ${header.join(', ') || 'nothing'})`,
    })
    return { rows, invalid }
  }
  const originalHeader = splitCsvLine(lines[0] ?? '')
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!
    if (raw.trim() === '') continue
    const line = i + 1
    const fields = splitCsvLine(raw)
    if (fields.length !== header.length) {
      invalid.push({
        line,
        field: 'row',
        message: `has ${fields.length} fields, the header has ${header.length}`,
      })
      continue
    }
    const phone = fields[phoneCol]!
    if (!PhoneNumber.safeParse(phone).success) {
      invalid.push({
        line,
        field: originalHeader[phoneCol]!,
        message: `"${maskRaw(phone)}" is not a valid E.164 number (e.g. +972501234567)`,
      })
      continue
    }
    const id = idCol >= 0 && fields[idCol] ? fields[idCol]! : `c-${phone.slice(1)}`
    if (idCol >= 0 && !fields[idCol]) {
      invalid.push({ line, field: originalHeader[idCol]!, message: 'is empty' })
      continue
    }
    const metadata: Record<string, unknown> = {}
    header.forEach((_h, j) => {
      if (j !== phoneCol && j !== idCol) metadata[originalHeader[j]!] = fields[j]
    })
    rows.push({ line, id, phoneNumber: phone, metadata })
  }
  return { rows, invalid }
}

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
