import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { usageError } from '../../src/errors.js'
import { colors } from '../../src/cli/render.js'
import type { AuditEntry, PersistResult } from '../../src/control/port.js'

export const DEFAULT_CPS_CEILING = 500

export interface CpsSetResult {
  stage: string
  change: AuditEntry
  persisted?: PersistResult
}

export default class CpsSet extends ControlCommand<typeof CpsSet> {
  static override summary = 'Set the live CPS limit (takes effect within a second, audited)'
  static override description = `Writes the limit every dialer reads (cached at most 1 s) and records who, when, why, old → new in the audit trail (\`dialctl cps history\`). Refuses N <= 0, and N above the ceiling (env DIALCTL_CPS_CEILING, default ${DEFAULT_CPS_CEILING}) unless --force. With --persist (AWS stages) it also sets the dialer Lambda's MAX_CPS default, keeping all its other environment variables.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> 50 --reason "carrier asked us to slow down"',
    '<%= config.bin %> <%= command.id %> 150 --reason "new trunk" --persist --stage prod',
    '<%= config.bin %> <%= command.id %> 800 --reason "load test" --force',
  ]
  static override args = {
    limit: Args.integer({ description: 'calls per second', required: true }),
  }
  static override flags = {
    reason: Flags.string({ description: 'why (kept in the audit trail)', required: true }),
    force: Flags.boolean({ description: 'allow a limit above the ceiling' }),
    persist: Flags.boolean({ description: "also set the dialer Lambda's MAX_CPS default (AWS stages)" }),
  }

  async run(): Promise<CpsSetResult> {
    const { args, flags } = await this.parse(CpsSet)
    const ceiling = Number(process.env.DIALCTL_CPS_CEILING ?? DEFAULT_CPS_CEILING)
    if (args.limit <= 0)
      throw usageError(
        `The limit must be at least 1 call per second (got ${args.limit}).`,
        'To stop dialing, pause the campaigns (dialctl campaign pause ID --reason …) or stop the pipe (dialctl pipe stop).',
      )
    if (args.limit > ceiling && !flags.force)
      throw usageError(
        `${args.limit} cps is above the ceiling of ${ceiling}.`,
        'Check the trunk can take it, then add --force (or raise DIALCTL_CPS_CEILING).',
        'ABOVE_CEILING',
      )
    if (flags.reason.trim() === '')
      throw usageError('--reason is empty.', 'Say why, e.g. --reason "carrier asked"')
    const plane = await this.control()
    // Refuse before changing anything: a half-applied `--persist` would surprise.
    if (flags.persist && plane.kind === 'local') await plane.persistDefaultLimit(args.limit)
    const change = await plane.setLimit(args.limit, flags.reason, this.actor())
    const c = colors()
    this.log(
      `${c.green('✓')} CPS limit ${change.oldLimit ?? 'default'} → ${c.bold(String(change.newLimit))} on ${plane.stage} (by ${change.actor}: ${change.reason})`,
    )
    const result: CpsSetResult = { stage: plane.stage, change }
    if (flags.persist) {
      result.persisted = await plane.persistDefaultLimit(args.limit)
      this.log(
        `${c.green('✓')} ${result.persisted.functionName} MAX_CPS ${result.persisted.previous ?? 'unset'} → ${result.persisted.maxCps} (kept ${result.persisted.keptVariables.length} other variables)`,
      )
    }
    return result
  }
}
