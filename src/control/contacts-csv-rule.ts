import {
  contactRowProblem,
  DuplicateRows,
  LONGEST_CAMPAIGN_ID,
  type ContactField,
} from '../contracts/index.js'
import { maskPhone } from '../observability/mask.js'
import type { ContactRow, ImportResult } from './port.js'
import { MAX_COLUMNS, MAX_HEADER_CELL } from './import-position.js'

/**
 * The rule for one contacts CSV, whichever reader feeds it (contacts-import.ts: in memory or
 * streamed): the columns, the delimiter, and each record → a contact row or a refusal.
 */

/**
 * How to read a contacts CSV. Column names are matched case-insensitively; when not given, the
 * usual names are tried (PHONE_COLUMNS, ID_COLUMNS, TIMEZONE_COLUMNS).
 */
export interface ContactsCsvOptions {
  /** one character; default: detected from the header line among , ; TAB | */
  delimiter?: string
  phoneColumn?: string
  idColumn?: string
  timezoneColumn?: string
}

/** What the reader needs beyond the operator's options: the campaign the rows go to (the size rule). */
export interface ContactsCsvReading extends ContactsCsvOptions {
  /** default: LONGEST_CAMPAIGN_ID, which refuses what any campaign would */
  campaignId?: string
}

/** The file is unusable as a whole (no phone column, a named column missing): nothing is imported. */
export class CsvHeaderError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message)
    this.name = 'CsvHeaderError'
  }
}

export const PHONE_COLUMNS = ['phone_number', 'phonenumber', 'phone']
export const ID_COLUMNS = ['id', 'contact_id', 'contactid']
export const TIMEZONE_COLUMNS = ['timezone', 'time_zone', 'tz']
const DELIMITERS = [',', ';', '\t', '|'] as const

/**
 * C0 control characters other than TAB, LF and CR, and DEL. A NUL cannot be stored in PostgreSQL
 * text (22P05 aborted a whole import) and the others are never part of a contact's data: the row
 * is refused on its own, naming the field.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/

/** Masks what the operator typed, without pretending it is E.164 (no '+' added). */
function maskRaw(text: string): string {
  return maskPhone(text)
}

/**
 * The delimiter of a header line: the candidate that occurs most often outside quotes (a header
 * names at least two columns); `,` when none does.
 */
export function detectDelimiter(headerLine: string): string {
  let best = ','
  let bestCount = 0
  for (const d of DELIMITERS) {
    let count = 0
    let quoted = false
    for (const c of headerLine) {
      if (c === '"') quoted = !quoted
      else if (c === d && !quoted) count++
    }
    if (count > bestCount) {
      best = d
      bestCount = count
    }
  }
  return best
}

/**
 * The rule for one contacts CSV, used by the streaming reader and the in-memory one alike:
 * header → column map; record → contact row or a refusal naming its line and field.
 */
export class ContactRecords {
  private phoneCol = -1
  private idCol = -1
  private tzCol = -1
  private header: string[] = []
  private readonly duplicates = new DuplicateRows()

  constructor(private readonly options: ContactsCsvReading) {}

  /** Throws CsvHeaderError when a needed column is missing. */
  setHeader(record: string[]): void {
    this.header = record.map((h) => h.trim())
    const long = this.header.findIndex((h) => h.length > MAX_HEADER_CELL)
    if (this.header.length > MAX_COLUMNS || long >= 0)
      throw new CsvHeaderError(
        long >= 0
          ? `column ${long + 1} of the header is ${this.header[long]!.length} characters long (at most ${MAX_HEADER_CELL}); is the first line the header?`
          : `the header has ${this.header.length} columns (at most ${MAX_COLUMNS}); is --delimiter right?`,
        'header',
      )
    const lower = this.header.map((h) => h.toLowerCase())
    const find = (flag: string, named: string | undefined, aliases: string[], required: boolean) => {
      if (named) {
        const i = lower.indexOf(named.toLowerCase())
        if (i < 0)
          throw new CsvHeaderError(
            `${flag} "${named}" is not a column of the header (found: ${this.header.join(', ') || 'nothing'})`,
            'header',
          )
        return i
      }
      const i = lower.findIndex((h) => aliases.includes(h))
      if (i < 0 && required)
        throw new CsvHeaderError(
          `no phone column; name one of: ${aliases.join(', ')} or pass --phone-column (found: ${this.header.join(', ') || 'nothing'})`,
          'header',
        )
      return i
    }
    this.phoneCol = find('--phone-column', this.options.phoneColumn, PHONE_COLUMNS, true)
    this.idCol = find('--id-column', this.options.idColumn, ID_COLUMNS, false)
    this.tzCol = find('--timezone-column', this.options.timezoneColumn, TIMEZONE_COLUMNS, false)
  }

  /** A data record (already split by csv-parse) → row, refusal, or undefined for a blank line. */
  read(
    fields: string[],
    line: number,
  ): { row: ContactRow } | { invalid: ImportResult['invalid'][number] } | undefined {
    if (fields.length === 1 && fields[0]!.trim() === '') return undefined
    if (fields.length !== this.header.length)
      return {
        invalid: {
          line,
          field: 'row',
          message: `has ${fields.length} fields, the header has ${this.header.length}`,
        },
      }
    const bad = fields.findIndex((f) => CONTROL.test(f))
    if (bad >= 0)
      return {
        invalid: {
          line,
          field: this.header[bad] || `column ${bad + 1}`,
          message:
            'holds a control character (NUL or another C0 code); fix the cell and import the row again',
        },
      }
    const phone = fields[this.phoneCol]!.trim()
    const id = this.idCol >= 0 ? fields[this.idCol]!.trim() : `c-${phone.replace(/^\+/, '')}`
    if (this.idCol >= 0 && !id) return this.refuse(line, 'id', 'is empty')
    const zone = this.tzCol >= 0 ? fields[this.tzCol]!.trim() : ''
    const timezone = zone || undefined
    // Every other cell verbatim — formula-like text (=, +, -, @) included: it is data here, and
    // whoever exports it to a spreadsheet escapes it there.
    const metadata: Record<string, unknown> = {}
    this.header.forEach((h, j) => {
      if (j !== this.phoneCol && j !== this.idCol && j !== this.tzCol) metadata[h] = fields[j]
    })
    const row: ContactRow = { line, id, phoneNumber: phone, ...(timezone ? { timezone } : {}), metadata }
    // the same rules as the control API's contacts.import (src/contracts/contact-row.ts)
    const problem = contactRowProblem(row, this.options.campaignId ?? LONGEST_CAMPAIGN_ID)
    if (problem)
      return this.refuse(
        line,
        problem.field,
        problem.field === 'phoneNumber' ? `"${maskRaw(phone)}" ${problem.message}` : problem.message,
      )
    const duplicate = this.duplicates.check(row)
    return duplicate ? this.refuse(line, duplicate.field, duplicate.message) : { row }
  }

  /** A refusal naming the header column of `field` (the row itself for a whole-row problem). */
  refuse(line: number, field: ContactField, message: string): { invalid: ImportResult['invalid'][number] } {
    const column = {
      id: this.idCol,
      phoneNumber: this.phoneCol,
      timezone: this.tzCol,
      metadata: -1,
      row: -1,
    }[field]
    return {
      invalid: {
        line,
        field: column >= 0 ? this.header[column]! : field === 'metadata' ? 'row' : field,
        message,
      },
    }
  }
}
