import { z } from 'zod'
import { ImportResult } from './port.js'

/**
 * The shapes of a resumable contacts import (src/control/import-stream.ts), apart from the CSV
 * reader so that the CLI's side of the control API loads them without csv-parse.
 */

export const RECORD_DELIMITERS = ['\n', '\r\n', '\r'] as const
export type RecordDelimiter = (typeof RECORD_DELIMITERS)[number]

/** Refusals and blacklisted rows listed in a result at most; the counts are always complete. */
export const MAX_LISTED = 1000

/** `contacts import`'s result: ImportResult plus the full counts behind its (bounded) lists. */
export const ImportTotals = ImportResult.extend({
  blacklisted: ImportResult.shape.blacklisted.max(MAX_LISTED),
  invalid: ImportResult.shape.invalid.max(MAX_LISTED),
  invalidCount: z.number().int().nonnegative(),
  /** rows that passed the checks (imported or duplicates) */
  valid: z.number().int().nonnegative(),
})
export type ImportTotals = z.infer<typeof ImportTotals>

/**
 * Header bounds, enforced by the CSV reader (contacts-import.ts): a header is carried in an
 * import's continuation, both ways through Lambda's 6 MB payload, and its names become metadata
 * keys of every contact; a line past these is not a header (no CRM export comes near them).
 */
export const MAX_COLUMNS = 1000
export const MAX_HEADER_CELL = 1000
const Cell = z.string().max(MAX_HEADER_CELL)
/** CsvStart on the wire (a continuation comes back from the caller: checked, never trusted). */
export const CsvStartSchema = z
  .object({
    byteOffset: z.number().int().positive(),
    line: z.number().int().min(2),
    header: z.array(Cell).min(1).max(MAX_COLUMNS),
    delimiter: z
      .string()
      .length(1)
      .refine((d) => !/["\r\n]/.test(d), { error: 'must not be a quote or a line break' }),
    recordDelimiter: z.enum(RECORD_DELIMITERS),
  })
  .strict()

/**
 * How far a stopped import got: its pass (`check`, the validation pass of --strict, then `import`),
 * the boundary to read on from (null: the file's first byte) and the counts so far. Everything
 * before `at` is committed; nothing after it has been.
 */
export const ImportPosition = z
  .object({
    phase: z.enum(['check', 'import']),
    at: CsvStartSchema.nullable(),
    totals: ImportTotals,
  })
  .strict()
export type ImportPosition = z.infer<typeof ImportPosition>

/** One step of an import: finished with its totals, or stopped at a row boundary to go on from. */
export type ImportStep = { done: true; totals: ImportTotals } | { done: false; position: ImportPosition }
