import { OperatorError } from '../errors.js'
import {
  CsvHeaderError,
  streamContactsCsv,
  type ContactsCsvOptions,
  type CsvStart,
} from './contacts-import.js'
import { MAX_LISTED, type ImportPosition, type ImportStep, type ImportTotals } from './import-position.js'
import type { InsertResult } from './contacts-insert.js'
import type { ContactRow, ImportResult } from './port.js'

export { MAX_LISTED, ImportPosition, ImportTotals, type ImportStep } from './import-position.js'

export interface ImportStreamOptions {
  campaignId: string
  /** how the operator knows the input (a path, or the upload's name), for messages */
  source: string
  csv: ContactsCsvOptions
  /** refuse the whole input if any row is refused (a validation pass first, nothing imported) */
  strict: boolean
  /** a fresh read of the input from byte `from` (twice under `strict`) */
  open: (from: number) => AsyncIterable<Buffer | string>
  /** stores one chunk of valid rows: DataPort.importContacts */
  save: (campaignId: string, rows: ContactRow[]) => Promise<InsertResult>
  /** bytes of the input read so far, rows seen so far */
  onProgress?: (bytes: number, rows: number) => void
  /**
   * Milliseconds left to work. Checked after each committed chunk: at or below 0 the import stops
   * at that row boundary (at least one chunk per step, so a step always advances). Absent: never stops.
   */
  remainingMs?: () => number
  /**
   * Aborted when the step must end even mid-chunk (the read of the input then fails): the step
   * returns the last committed boundary instead of the read's error.
   */
  signal?: AbortSignal
  /**
   * A failed read of the input worth going on from (the connection dropped mid-body): after a
   * committed chunk, the step answers that boundary instead of failing, and the next step reads again.
   */
  resumable?: (error: unknown) => boolean
  /** rows per chunk (a transaction's worth; default 5000) */
  chunkSize?: number
}

/**
 * The one import loop, whoever runs it: `dialctl contacts import` on a file (local stage, or an AWS
 * stage with the rows sent inline), and the control function on a file the CLI uploaded to the
 * stage bucket. Streams the CSV (streamContactsCsv: RFC 4180, per-line refusals), saves valid rows
 * chunk by chunk, and adds up the counts. Runs to the end (no remainingMs).
 * Throws OperatorError CSV_HEADER (nothing imported) and, under `strict`, IMPORT_REFUSED.
 */
export async function importCsvStream(options: ImportStreamOptions): Promise<ImportTotals> {
  const { remainingMs: _never, signal: _none, resumable: _once, ...untimed } = options
  const step = await importCsvStep(untimed, null)
  if (!step.done) throw new Error('an import without a deadline stopped early')
  return step.totals
}

/**
 * importCsvStream in steps that fit a time budget (the control function: Lambda runs 15 minutes at
 * most): from `from` (null: the start) until the end of the input, or until `remainingMs` runs out
 * — then it stops at a row boundary, with every row before it committed, and returns where to go
 * on. Steps chained from the same file add up to the totals one call would give: refusals keep
 * their file line numbers, a row repeating a row an earlier step inserted is refused naming that
 * line (the save's run, insertContacts), and a step run twice imports nothing twice (its rows are
 * then contacts already in the campaign: duplicates). Two rare cases differ from one call: a row
 * repeating an earlier row that was itself a duplicate of a contact already in the campaign is a
 * duplicate, not refused; and a --strict check spread over several steps does not see a row
 * repeating a row of an earlier step — the import then refuses those rows by line and imports the
 * rest (the check writes nothing, so it covers far more rows per step than the import; a file of
 * many millions of rows can still need more than one).
 */
export async function importCsvStep(
  options: ImportStreamOptions,
  from: ImportPosition | null,
): Promise<ImportStep> {
  let position = from ?? { phase: options.strict ? 'check' : 'import', at: null, totals: noTotals(options) }
  if (position.phase === 'check') {
    const check = await pass(options, position)
    if (!check.done) return check
    if (check.totals.invalidCount > 0)
      throw new OperatorError(
        `${check.totals.invalidCount} row(s) of ${options.source} refused under --strict; nothing was imported (${firstRefusals(check.totals, 5)}).`,
        'Fix those lines, or import without --strict to take the valid rows.',
        1,
        'IMPORT_REFUSED',
      )
    position = { phase: 'import', at: null, totals: noTotals(options) }
    if (options.remainingMs && options.remainingMs() <= 0) return { done: false, position }
  }
  return pass(options, position)
}

function noTotals(options: Pick<ImportStreamOptions, 'campaignId'>): ImportTotals {
  return {
    campaignId: options.campaignId,
    imported: 0,
    duplicates: 0,
    blacklisted: [],
    invalid: [],
    invalidCount: 0,
    valid: 0,
  }
}

/** "line 3 phone: …; line 7 id: …" — the first `n` refusals, for a one-line message. */
export function firstRefusals(result: Pick<ImportResult, 'invalid'>, n: number): string {
  return result.invalid
    .slice(0, n)
    .map((i) => `line ${i.line} ${i.field}: ${i.message}`)
    .join('; ')
}

/** One pass (check or import) from `position` to the end of the input or of the time budget. */
async function pass(options: ImportStreamOptions, position: ImportPosition): Promise<ImportStep> {
  const importing = position.phase === 'import'
  const result = structuredClone(position.totals)
  let last: CsvStart | null = position.at
  const chunks = streamContactsCsv(options.open(last?.byteOffset ?? 0), {
    ...options.csv,
    campaignId: options.campaignId,
    ...(last ? { start: last } : {}),
    ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
  })
  try {
    for await (const chunk of chunks) {
      // counted once saved: a step cut short after this point goes on from the previous boundary
      const saved =
        importing && chunk.rows.length ? await options.save(options.campaignId, chunk.rows) : undefined
      // rows an earlier step's rows duplicate (insertContacts with a run): refused, in line order
      const refused = (saved?.refused ?? []).map((r) => chunk.refusal(r.line, r.field, r.message))
      const invalid = refused.length
        ? [...chunk.invalid, ...refused].sort((a, b) => a.line - b.line)
        : chunk.invalid
      result.valid += chunk.rows.length - refused.length
      result.invalidCount += invalid.length
      for (const i of invalid) if (result.invalid.length < MAX_LISTED) result.invalid.push(i)
      if (saved) {
        result.imported += saved.imported
        result.duplicates += saved.duplicates
        for (const b of saved.blacklisted)
          if (result.blacklisted.length < MAX_LISTED) result.blacklisted.push(b)
      }
      last = chunk.end
      options.onProgress?.(chunk.bytes, result.valid + result.invalidCount)
      if (!chunk.final && options.remainingMs && options.remainingMs() <= 0)
        return { done: false, position: { phase: position.phase, at: chunk.end, totals: result } }
    }
  } catch (error) {
    return stopped(options, position, error, last, result)
  }
  return { done: true, totals: result }
}

/** A pass that failed: cut short by `signal` after a committed boundary (go on from there), or an error. */
function stopped(
  options: ImportStreamOptions,
  position: ImportPosition,
  error: unknown,
  last: CsvStart | null,
  result: ImportTotals,
): ImportStep {
  if (error instanceof CsvHeaderError)
    throw new OperatorError(
      `${options.source}: ${error.message}. Nothing was imported.`,
      'Fix the header or name the columns (--phone-column, --id-column, --delimiter), then import again.',
      1,
      'CSV_HEADER',
    )
  const cut = options.signal?.aborted || options.resumable?.(error)
  if (cut && last && last !== position.at)
    return { done: false, position: { phase: position.phase, at: last, totals: result } }
  if (options.signal?.aborted)
    throw new OperatorError(
      `Reading ${options.source} made no progress before the time limit of this step.`,
      'Run the command again; if it persists, check S3 and the function with `dialctl doctor`.',
      1,
      'IMPORT_STALLED',
    )
  throw error
}
