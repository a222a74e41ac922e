import { OperatorError } from '../errors.js'
import { CsvHeaderError, streamContactsCsv, type ContactsCsvOptions } from './contacts-import.js'
import type { ContactRow, ImportResult } from './port.js'

/** Refusals and blacklisted rows listed in a result at most; the counts are always complete. */
export const MAX_LISTED = 1000

/** `contacts import`'s result: ImportResult plus the full counts behind its (bounded) lists. */
export interface ImportTotals extends ImportResult {
  invalidCount: number
  /** rows that passed the checks (imported or duplicates) */
  valid: number
}

export interface ImportStreamOptions {
  campaignId: string
  /** how the operator knows the input (a path, or the upload's name), for messages */
  source: string
  csv: ContactsCsvOptions
  /** refuse the whole input if any row is refused (a validation pass first, nothing imported) */
  strict: boolean
  /** a fresh read of the input (twice under `strict`) */
  open: () => AsyncIterable<Buffer | string>
  /** stores one chunk of valid rows: DataPort.importContacts */
  save: (campaignId: string, rows: ContactRow[]) => Promise<Omit<ImportResult, 'invalid'>>
  /** bytes of the input read so far, rows seen so far */
  onProgress?: (bytes: number, rows: number) => void
}

/**
 * The one import loop, whoever runs it: `dialctl contacts import` on a file (local stage, or an AWS
 * stage with the rows sent inline), and the control function on a file the CLI uploaded to the
 * stage bucket. Streams the CSV (streamContactsCsv: RFC 4180, per-line refusals), saves valid rows
 * chunk by chunk, and adds up the counts.
 * Throws OperatorError CSV_HEADER (nothing imported) and, under `strict`, IMPORT_REFUSED.
 */
export async function importCsvStream(options: ImportStreamOptions): Promise<ImportTotals> {
  if (options.strict) {
    const check = await pass(options, false)
    if (check.invalidCount > 0)
      throw new OperatorError(
        `${check.invalidCount} row(s) of ${options.source} refused under --strict; nothing was imported (${firstRefusals(check, 5)}).`,
        'Fix those lines, or import without --strict to take the valid rows.',
        1,
        'IMPORT_REFUSED',
      )
  }
  return pass(options, true)
}

/** "line 3 phone: …; line 7 id: …" — the first `n` refusals, for a one-line message. */
export function firstRefusals(result: ImportResult, n: number): string {
  return result.invalid
    .slice(0, n)
    .map((i) => `line ${i.line} ${i.field}: ${i.message}`)
    .join('; ')
}

async function pass(options: ImportStreamOptions, importing: boolean): Promise<ImportTotals> {
  const result: ImportTotals = {
    campaignId: options.campaignId,
    imported: 0,
    duplicates: 0,
    blacklisted: [],
    invalid: [],
    invalidCount: 0,
    valid: 0,
  }
  try {
    for await (const chunk of streamContactsCsv(options.open(), {
      ...options.csv,
      campaignId: options.campaignId,
    })) {
      result.valid += chunk.rows.length
      result.invalidCount += chunk.invalid.length
      for (const i of chunk.invalid) if (result.invalid.length < MAX_LISTED) result.invalid.push(i)
      if (importing && chunk.rows.length) {
        const saved = await options.save(options.campaignId, chunk.rows)
        result.imported += saved.imported
        result.duplicates += saved.duplicates
        for (const b of saved.blacklisted)
          if (result.blacklisted.length < MAX_LISTED) result.blacklisted.push(b)
      }
      options.onProgress?.(chunk.bytes, result.valid + result.invalidCount)
    }
  } catch (error) {
    if (error instanceof CsvHeaderError)
      throw new OperatorError(
        `${options.source}: ${error.message}. Nothing was imported.`,
        'Fix the header or name the columns (--phone-column, --id-column, --delimiter), then import again.',
        1,
        'CSV_HEADER',
      )
    throw error
  }
  return result
}
