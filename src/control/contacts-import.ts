import { findBlacklisted } from '../campaigns/contacts.js'
import { PhoneNumber } from '../contracts/index.js'
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
      `INSERT INTO contacts (campaign_id, id, phone_number, metadata)
       SELECT $1, r.id, r.phone, r.metadata
         FROM jsonb_to_recordset($2::jsonb) AS r(id text, phone text, metadata jsonb)
       ON CONFLICT DO NOTHING`,
      [
        campaignId,
        JSON.stringify(chunk.map((r) => ({ id: r.id, phone: r.phoneNumber, metadata: r.metadata }))),
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
