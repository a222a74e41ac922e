import { z } from 'zod'
import type { ContactResult } from '../../campaigns/report.js'
import type { ContactsCsvOptions } from '../contacts-import.js'

/** The contact shapes of the control port (port.ts): imports and per-contact results. */

/** `contacts import` of one file: where it is, how to read it, how to report progress. */
export interface FileImport {
  campaignId: string
  path: string
  /** bytes, from stat */
  size: number
  csv: ContactsCsvOptions
  strict: boolean
  /** bytes of the file read (or uploaded) so far, rows seen so far (0 while uploading) */
  onProgress?: (bytes: number, rows: number) => void
  /**
   * A new phase of the same file (uploading it, then the stage importing it over one or more
   * invocations): `phase` a line for the operator, `label` the progress bar's for what follows;
   * onProgress then counts from 0 again.
   */
  onPhase?: (phase: string, label: string) => void
}

export interface ContactResultsPage {
  rows: ContactResult[]
  /** pass as `after` for the next page; null when this page was the last */
  next: string | null
}

export interface ContactRow {
  line: number
  id: string
  phoneNumber: string
  metadata: Record<string, unknown>
  /** explicit IANA zone of the callee (CSV column `timezone`); else the number's zones apply */
  timezone?: string
}

export const ImportResult = z.object({
  campaignId: z.string(),
  imported: z.number().int(),
  duplicates: z.number().int(),
  blacklisted: z.array(z.object({ line: z.number().int(), contactId: z.string(), phone: z.string() })),
  invalid: z.array(z.object({ line: z.number().int(), field: z.string(), message: z.string() })),
})
export type ImportResult = z.infer<typeof ImportResult>
