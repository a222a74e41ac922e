import { readFile } from 'node:fs/promises'
import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { OperatorError } from '../../src/errors.js'
import { colors, table } from '../../src/cli/render.js'
import { parseContactsCsv } from '../../src/control/contacts-import.js'
import type { ImportResult } from '../../src/control/port.js'

export default class ContactsImport extends ControlCommand<typeof ContactsImport> {
  static override summary = 'Import contacts from a CSV file into a campaign'
  static override description =
    "The CSV has a header with a phone column (phone_number, phoneNumber or phone; E.164 numbers) and optionally an id column (id or contact_id); other columns become the contact's metadata. Valid rows are imported as pending; invalid rows are reported with their line number and field; contacts already in the campaign (same id or number) are skipped; blacklisted numbers are imported but flagged (they are never dialed)."
  static override examples = [
    '<%= config.bin %> <%= command.id %> --campaign campaign-123 contacts.csv',
    '<%= config.bin %> <%= command.id %> --campaign campaign-123 contacts.csv --json',
  ]
  static override args = { file: Args.string({ description: 'CSV file', required: true }) }
  static override flags = {
    campaign: Flags.string({ description: 'campaign id', required: true }),
  }

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(ContactsImport)
    let text: string
    try {
      text = await readFile(args.file, 'utf8')
    } catch (error) {
      throw new OperatorError(
        `Cannot read ${args.file} (${(error as NodeJS.ErrnoException).code}).`,
        'Check the path.',
        1,
        'BAD_FILE',
      )
    }
    const parsed = parseContactsCsv(text)
    const plane = await this.control()
    const saved =
      parsed.rows.length > 0
        ? await plane.importContacts(flags.campaign, parsed.rows)
        : { campaignId: flags.campaign, imported: 0, duplicates: 0, blacklisted: [] }
    const result: ImportResult = { ...saved, invalid: parsed.invalid }
    const c = colors()
    this.log(
      `${c.green('✓')} ${result.imported} imported, ${result.duplicates} duplicate(s) skipped, ${result.invalid.length} invalid, ${result.blacklisted.length} blacklisted (imported, never dialed)`,
    )
    if (result.invalid.length)
      this.log(
        table(
          ['Line', 'Field', 'Problem'],
          result.invalid.map((i) => [i.line, i.field, i.message]),
        ),
      )
    if (result.blacklisted.length)
      this.log(
        table(
          ['Line', 'Contact', 'Phone (blacklisted)'],
          result.blacklisted.map((b) => [b.line, b.contactId, b.phone]),
        ),
      )
    return result
  }
}
