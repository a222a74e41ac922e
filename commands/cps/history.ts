import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { table } from '../../src/cli/render.js'
import type { AuditEntry } from '../../src/control/port.js'

export default class CpsHistory extends ControlCommand<typeof CpsHistory> {
  static override summary = 'Show the audit trail of CPS limit changes, newest first'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --limit 5 --json',
  ]
  static override flags = {
    limit: Flags.integer({ description: 'how many entries', default: 20, min: 1, max: 1000 }),
  }

  async run(): Promise<AuditEntry[]> {
    const { flags } = await this.parse(CpsHistory)
    const plane = await this.control()
    const entries = await plane.limitHistory(flags.limit)
    if (entries.length === 0) this.log('No limit change recorded yet.')
    else
      this.log(
        table(
          ['When', 'Who', 'Source', 'Old → new', 'Reason'],
          entries.map((e) => [
            e.at,
            e.actor,
            e.source,
            `${e.oldLimit ?? 'default'} → ${e.newLimit}`,
            e.reason,
          ]),
        ),
      )
    return entries
  }
}
