import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Args, Flags } from '@oclif/core'
import cliProgress from 'cli-progress'
import { ControlCommand } from '../../src/cli/control-command.js'
import { OperatorError, usageError } from '../../src/errors.js'
import { colors, table } from '../../src/cli/render.js'
import {
  CsvHeaderError,
  streamContactsCsv,
  type ContactsCsvOptions,
} from '../../src/control/contacts-import.js'
import type { ImportResult } from '../../src/control/port.js'

/** Refusals listed in the output at most; the count is always complete (`invalidCount`). */
const MAX_LISTED = 1000

export default class ContactsImport extends ControlCommand<typeof ContactsImport> {
  static override summary = 'Import contacts from a CSV file into a campaign'
  static override description =
    "RFC 4180 CSV (quoted cells may hold delimiters, quotes and line breaks; UTF-8 BOM and CRLF are fine), delimiter detected from the header (, ; TAB |) or given with --delimiter. The header names a phone column (phone_number, phoneNumber or phone, or --phone-column; E.164 numbers), optionally an id column (id or contact_id, or --id-column) and a timezone column (an IANA zone that overrides the number's zone for the calling window); other columns become the contact's metadata, stored verbatim. Valid rows are imported as pending; each refused row is reported with its line and field (a row with a control character such as NUL is refused on its own); contacts already in the campaign (same id or number) are skipped; blacklisted numbers are imported but flagged (they are never dialed). Files of any size are streamed. Exit 1 when no row could be imported, the phone column is missing, or — with --strict — any row is refused (then nothing is imported)."
  static override examples = [
    '<%= config.bin %> <%= command.id %> --campaign campaign-123 contacts.csv',
    '<%= config.bin %> <%= command.id %> --campaign campaign-123 export.csv --delimiter ";" --phone-column Mobile --strict',
    '<%= config.bin %> <%= command.id %> --campaign campaign-123 contacts.csv --json',
  ]
  static override args = { file: Args.string({ description: 'CSV file', required: true }) }
  static override flags = {
    campaign: Flags.string({ description: 'campaign id', required: true }),
    delimiter: Flags.string({ description: 'cell delimiter (default: detected from the header)' }),
    'phone-column': Flags.string({ description: 'header of the phone number column' }),
    'id-column': Flags.string({ description: 'header of the contact id column' }),
    'timezone-column': Flags.string({ description: 'header of the IANA time zone column' }),
    strict: Flags.boolean({ description: 'refuse the whole file if any row is refused', default: false }),
  }

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(ContactsImport)
    if (flags.delimiter !== undefined) {
      flags.delimiter = flags.delimiter === '\\t' || flags.delimiter === 'tab' ? '\t' : flags.delimiter
      if ([...flags.delimiter].length !== 1 || /["\r\n]/.test(flags.delimiter))
        throw usageError(
          `--delimiter "${flags.delimiter}" must be one character other than a quote or a line break.`,
          'Use e.g. --delimiter ";" or --delimiter tab.',
        )
    }
    let size: number
    try {
      size = (await stat(args.file)).size
    } catch (error) {
      throw new OperatorError(
        `Cannot read ${args.file} (${(error as NodeJS.ErrnoException).code}).`,
        'Check the path.',
        1,
        'BAD_FILE',
      )
    }
    const csv: ContactsCsvOptions = {
      ...(flags.delimiter ? { delimiter: flags.delimiter } : {}),
      ...(flags['phone-column'] ? { phoneColumn: flags['phone-column'] } : {}),
      ...(flags['id-column'] ? { idColumn: flags['id-column'] } : {}),
      ...(flags['timezone-column'] ? { timezoneColumn: flags['timezone-column'] } : {}),
    }
    const result: ImportResult & { invalidCount: number } = {
      campaignId: flags.campaign,
      imported: 0,
      duplicates: 0,
      blacklisted: [],
      invalid: [],
      invalidCount: 0,
    }
    let valid = 0
    const bar = this.spinner()
      ? new cliProgress.SingleBar(
          { format: 'Importing {bar} {percentage}%  {rows} rows', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined
    const pass = async (importing: boolean) => {
      const plane = importing ? await this.control() : undefined
      bar?.start(Math.max(1, size), 0, { rows: 0 })
      try {
        for await (const chunk of streamContactsCsv(createReadStream(args.file), csv)) {
          valid += chunk.rows.length
          result.invalidCount += chunk.invalid.length
          for (const i of chunk.invalid) if (result.invalid.length < MAX_LISTED) result.invalid.push(i)
          if (plane && chunk.rows.length) {
            const saved = await plane.importContacts(flags.campaign, chunk.rows)
            result.imported += saved.imported
            result.duplicates += saved.duplicates
            for (const b of saved.blacklisted)
              if (result.blacklisted.length < MAX_LISTED) result.blacklisted.push(b)
          }
          bar?.update(chunk.bytes, { rows: valid + result.invalidCount })
        }
      } catch (error) {
        if (error instanceof CsvHeaderError)
          throw new OperatorError(
            `${args.file}: ${error.message}. Nothing was imported.`,
            'Fix the header or name the columns (--phone-column, --id-column, --delimiter), then import again.',
            1,
            'CSV_HEADER',
          )
        throw error
      } finally {
        bar?.stop()
      }
    }
    const first = (n: number) =>
      result.invalid
        .slice(0, n)
        .map((i) => `line ${i.line} ${i.field}: ${i.message}`)
        .join('; ')
    if (flags.strict) {
      // a validation pass first: under --strict a refused row means nothing is imported
      await pass(false)
      if (result.invalidCount > 0)
        throw new OperatorError(
          `${result.invalidCount} row(s) of ${args.file} refused under --strict; nothing was imported (${first(5)}).`,
          'Fix those lines, or import without --strict to take the valid rows.',
          1,
          'IMPORT_REFUSED',
        )
      valid = 0
    }
    await pass(true)
    this.report(result, valid)
    if (valid === 0)
      throw new OperatorError(
        `No row of ${args.file} could be imported (${result.invalidCount} refused${result.invalidCount ? `: ${first(3)}` : ', the file has no data rows'}).`,
        'Fix the rows listed above (or the delimiter: --delimiter), then import again.',
        1,
        'IMPORT_EMPTY',
      )
    return result
  }

  private report(result: ImportResult & { invalidCount: number }, valid: number): void {
    const c = colors()
    this.log(
      `${valid > 0 ? c.green('✓') : c.red('✗')} ${result.imported} imported, ${result.duplicates} duplicate(s) skipped, ${result.invalidCount} invalid, ${result.blacklisted.length} blacklisted (imported, never dialed)`,
    )
    if (result.invalid.length)
      this.log(
        table(
          ['Line', 'Field', 'Problem'],
          result.invalid.map((i) => [i.line, i.field, i.message]),
        ) +
          (result.invalidCount > result.invalid.length
            ? `\n… and ${result.invalidCount - result.invalid.length} more`
            : ''),
      )
    if (result.blacklisted.length)
      this.log(
        table(
          ['Line', 'Contact', 'Phone (blacklisted)'],
          result.blacklisted.map((b) => [b.line, b.contactId, b.phone]),
        ),
      )
  }
}
