import { Args, Flags } from '@oclif/core'
import cliProgress from 'cli-progress'
import { ControlCommand } from '../../src/cli/control-command.js'
import { inputFile } from '../../src/cli/input-file.js'
import { OperatorError, usageError } from '../../src/errors.js'
import { colors, table } from '../../src/cli/render.js'
import type { ContactsCsvOptions } from '../../src/control/contacts-import.js'
import { firstRefusals, type ImportTotals } from '../../src/control/import-stream.js'
import type { ImportResult } from '../../src/control/port.js'

export default class ContactsImport extends ControlCommand<typeof ContactsImport> {
  static override summary = 'Import contacts from a CSV file into a campaign'
  static override description =
    "RFC 4180 CSV (quoted cells may hold delimiters, quotes and line breaks; UTF-8 BOM and CRLF are fine), delimiter detected from the header (, ; TAB |) or given with --delimiter. The header names a phone column (phone_number, phoneNumber or phone, or --phone-column; E.164 numbers), optionally an id column (id or contact_id, or --id-column) and a timezone column (an IANA zone that overrides the number's zone for the calling window); other columns become the contact's metadata, stored verbatim. Valid rows are imported as pending; each refused row is reported with its line and field (a row with a control character such as NUL is refused on its own); contacts already in the campaign (same id or number) are skipped; blacklisted numbers are imported but flagged (they are never dialed). Files of any size are streamed; against an AWS stage a file over 1 MiB is uploaded to the stage's bucket (with progress) and imported by its control function, with the same per-line report. Exit 1 when no row could be imported, the phone column is missing, or — with --strict — any row is refused (then nothing is imported)."
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

  async run(): Promise<ImportResult & { invalidCount: number }> {
    const { args, flags } = await this.parse(ContactsImport)
    if (flags.delimiter !== undefined) {
      flags.delimiter = flags.delimiter === '\\t' || flags.delimiter === 'tab' ? '\t' : flags.delimiter
      if ([...flags.delimiter].length !== 1 || /["\r\n]/.test(flags.delimiter))
        throw usageError(
          `--delimiter "${flags.delimiter}" must be one character other than a quote or a line break.`,
          'Use e.g. --delimiter ";" or --delimiter tab.',
        )
    }
    const size = await inputFile(
      args.file,
      'CSV file',
      `dialctl contacts import --campaign ${flags.campaign} contacts.csv`,
    )
    const csv: ContactsCsvOptions = {
      ...(flags.delimiter ? { delimiter: flags.delimiter } : {}),
      ...(flags['phone-column'] ? { phoneColumn: flags['phone-column'] } : {}),
      ...(flags['id-column'] ? { idColumn: flags['id-column'] } : {}),
      ...(flags['timezone-column'] ? { timezoneColumn: flags['timezone-column'] } : {}),
    }
    const bar = this.spinner()
      ? new cliProgress.SingleBar(
          { format: '{what} {bar} {percentage}%  {detail}', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined
    const plane = await this.control()
    // One bar per phase, started at its first progress: reading the file here (local stage, or
    // rows sent inline), or uploading it then the stage importing it over its invocations.
    const progress = { label: 'Importing', started: false }
    const update = (bytes: number, rows: number) => {
      if (!bar) return
      if (!progress.started) bar.start(Math.max(1, size), 0, { what: progress.label, detail: '' })
      progress.started = true
      bar.update(bytes, rows ? { detail: `${rows} rows` } : {})
    }
    let result: ImportTotals
    try {
      result = await plane.importContactsFile({
        campaignId: flags.campaign,
        path: args.file,
        size,
        csv,
        strict: flags.strict,
        onProgress: update,
        onPhase: (phase, label) => {
          if (!bar) return
          if (progress.started) bar.stop()
          Object.assign(progress, { label, started: false })
          process.stderr.write(`${phase[0]!.toUpperCase()}${phase.slice(1)}…\n`)
        },
      })
    } finally {
      bar?.stop()
    }
    this.report(result, result.valid)
    if (result.valid === 0)
      throw new OperatorError(
        `No row of ${args.file} could be imported (${result.invalidCount} refused${result.invalidCount ? `: ${firstRefusals(result, 3)}` : ', the file has no data rows'}).`,
        'Fix the rows listed above (or the delimiter: --delimiter), then import again.',
        1,
        'IMPORT_EMPTY',
      )
    const { valid: _valid, ...out } = result
    return out
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
