import { z } from 'zod'

/**
 * The shape of the rows `contacts.import` carries (src/control/control-ops.ts). The rules a row
 * must meet — id, E.164 number, zone, metadata, size, no duplicates — are the CSV reader's, stated
 * once in src/contracts/contact-row.ts and asserted by DataPlane.importContacts (assertContactRows)
 * for rows from any caller.
 */

/** The most contacts one `contacts.import` call carries (a Lambda payload stays far below 6 MB). */
export const IMPORT_CHUNK_ROWS = 2000

export const ContactRowShape = z
  .object({
    /** the line of the CSV the row starts on (the header is line 1) */
    line: z.number().int().min(2),
    id: z.string(),
    phoneNumber: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    timezone: z.string().optional(),
  })
  .strict()

export const ContactRows = z.array(ContactRowShape).max(IMPORT_CHUNK_ROWS)
