import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { ExitCode } from '../../src/exit-codes.js'
import { OperatorError } from '../../src/errors.js'
import { colors } from '../../src/cli/render.js'
import type { AuditEntry } from '../../src/control/port.js'

export const DEFAULT_CPS_CEILING = 500

export interface CpsSetResult {
  stage: string
  change: AuditEntry
}

export default class CpsSet extends ControlCommand<typeof CpsSet> {
  static override summary = 'Set the live CPS limit (takes effect within a second, audited)'
  static override description = `Writes the limit every dialer reads (cached at most 1 s) and records who, when, why, old → new in the audit trail (\`dialctl cps history\`). Refuses N <= 0, and N above the ceiling (env DIALCTL_CPS_CEILING, default ${DEFAULT_CPS_CEILING}) unless --force. The limit is stage state: it survives deploys and restarts (nothing to persist separately).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> 50 --reason "carrier asked us to slow down"',
    '<%= config.bin %> <%= command.id %> 150 --reason "new trunk" --stage prod',
    '<%= config.bin %> <%= command.id %> 800 --reason "load test" --force',
  ]
  static override args = {
    limit: Args.integer({ description: 'calls per second', required: true }),
  }
  static override flags = {
    reason: Flags.string({ description: 'why (kept in the audit trail)', required: true }),
    force: Flags.boolean({ description: 'allow a limit above the ceiling' }),
  }

  async run(): Promise<CpsSetResult> {
    const { args, flags } = await this.parse(CpsSet)
    const ceiling = Number(process.env.DIALCTL_CPS_CEILING ?? DEFAULT_CPS_CEILING)
    if (args.limit <= 0)
      throw new OperatorError(
        `The limit must be at least 1 call per second (got ${args.limit}).`,
        'To stop dialing, pause the campaigns (dialctl campaign pause ID --reason …) or stop the pipe (dialctl pipe stop).',
        ExitCode.Usage,
        'USAGE',
      )
    if (args.limit > ceiling && !flags.force)
      throw new OperatorError(
        `${args.limit} cps is above the ceiling of ${ceiling}.`,
        'Check the trunk can take it, then add --force (or raise DIALCTL_CPS_CEILING).',
        ExitCode.Usage,
        'ABOVE_CEILING',
      )
    if (flags.reason.trim() === '')
      throw new OperatorError('--reason is empty.', 'Say why, e.g. --reason "carrier asked"', 2, 'USAGE')
    const plane = await this.control()
    const change = await plane.setLimit(args.limit, flags.reason, this.actor())
    const c = colors()
    this.log(
      `${c.green('✓')} CPS limit ${change.oldLimit ?? 'default'} → ${c.bold(String(change.newLimit))} on ${plane.stage} (by ${change.actor}: ${change.reason})`,
    )
    return { stage: plane.stage, change }
  }
}
