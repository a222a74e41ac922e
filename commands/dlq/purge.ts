import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { usageError } from '../../src/errors.js'
import { colors } from '../../src/cli/render.js'

export interface DlqPurgeResult {
  stage: string
  purged: number
}

export default class DlqPurge extends ControlCommand<typeof DlqPurge> {
  static override summary = 'Delete every message in the dead-letter queue (needs --force)'
  static override description =
    'Irreversible: the tasks are gone (their contacts stay in their current state). Look first with `dialctl dlq list`, or redrive them with `dialctl dlq redrive`.'
  static override examples = ['<%= config.bin %> <%= command.id %> --force']
  static override flags = {
    force: Flags.boolean({ description: 'yes, delete them' }),
  }

  async run(): Promise<DlqPurgeResult> {
    const { flags } = await this.parse(DlqPurge)
    if (!flags.force)
      throw usageError(
        'Purging deletes every DLQ message for good; refusing without --force.',
        'Look first (dialctl dlq list), then run dialctl dlq purge --force.',
      )
    const plane = await this.control()
    const purged = await plane.dlqPurge()
    this.log(`${colors().green('✓')} Purged ${purged} message(s) from the DLQ of ${plane.stage}.`)
    return { stage: plane.stage, purged }
  }
}
