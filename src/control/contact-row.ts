import { z } from 'zod'
import { PhoneNumber, SafeId } from '../contracts/index.js'

/**
 * One imported contact, as the CSV reader produces it (src/control/contacts-import.ts) and as the
 * control API accepts it (src/control/control-api.ts, `contacts.import`): one rule on both sides.
 * The reader's per-line checks give the operator the line and column; this schema is the same
 * rule, stated once, that the stage applies again to whatever arrives over the wire.
 */

/**
 * C0 control characters other than TAB, LF and CR, and DEL. A NUL cannot be stored in PostgreSQL
 * text (22P05 aborted a whole import) and the others are never part of a contact's data. TAB and
 * line breaks are legitimate inside a quoted CSV cell (RFC 4180), so metadata may hold them.
 */
// eslint-disable-next-line no-control-regex
export const CSV_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/

/** An IANA zone with a region (Europe/London) or UTC: what a contact's timezone column may hold. */
export function isValidZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return zone.includes('/') || zone === 'UTC'
  } catch {
    return false
  }
}

/** The most contacts one `contacts.import` call carries (a Lambda payload stays far below 6 MB). */
export const IMPORT_CHUNK_ROWS = 2000

const cell = z.string().refine((s) => !CSV_CONTROL.test(s), {
  error: 'holds a control character (NUL or another C0 code)',
})

export const ContactRowSchema = z
  .object({
    /** the line of the CSV the row starts on (the header is line 1) */
    line: z.number().int().min(2),
    id: SafeId,
    phoneNumber: PhoneNumber,
    metadata: z.record(cell, cell),
    timezone: z
      .string()
      .refine(isValidZone, { error: 'is not an IANA time zone (e.g. Europe/London)' })
      .optional(),
  })
  .strict()

export const ContactRows = z.array(ContactRowSchema).max(IMPORT_CHUNK_ROWS)
