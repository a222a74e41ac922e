import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { errorMessage, usageError } from '../../src/errors.js'
import { colors, parseInterval } from '../../src/cli/render.js'
import type { AuditEntry } from '../../src/control/port.js'
import { cpsCeiling, DEFAULT_CPS_CEILING, holdEnd } from '../../src/pacing/limit-store.js'
import { SettableCpsLimit } from '../../src/pacing/settable-limit.js'

export interface CpsSetResult {
  stage: string
  change: AuditEntry
}

export default class CpsSet extends ControlCommand<typeof CpsSet> {
  static override summary = 'Set and hold the live CPS limit (takes effect within a second, audited)'
  static override description = `Writes the limit every dialer reads (cached at most 1 s) and records who, when, why, old → new in the audit trail (\`dialctl cps history\`). Refuses N <= 0, and N above the ceiling (env DIALCTL_CPS_CEILING, default ${DEFAULT_CPS_CEILING}) unless --force. The limit is held: the adaptive pacer (\`cps auto\`, the scheduled pacer) leaves it alone until \`cps auto --resume\`, or until --for runs out; only a safety cut (CPU critical) may lower it, and says so. The limit and hold are stage state, kept in PostgreSQL (restored to Redis if Redis loses them): they survive deploys and restarts.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> 50 --reason "carrier asked us to slow down"',
    '<%= config.bin %> <%= command.id %> 20 --for 2h --reason "carrier maintenance window"',
    '<%= config.bin %> <%= command.id %> 150 --reason "new trunk" --stage prod',
    '<%= config.bin %> <%= command.id %> 800 --reason "load test" --force',
  ]
  static override args = {
    limit: Args.integer({ description: 'calls per second', required: true }),
  }
  static override flags = {
    reason: Flags.string({ description: 'why (kept in the audit trail)', required: true }),
    force: Flags.boolean({ description: 'allow a limit above the ceiling' }),
    for: Flags.string({
      description:
        'hold the limit this long (e.g. 30m, 2h), then hand back to the adaptive pacer; default: until `cps auto --resume`',
    }),
  }

  async run(): Promise<CpsSetResult> {
    const { args, flags } = await this.parse(CpsSet)
    const ceiling = cpsCeiling()
    // the one rule for a settable limit (src/pacing/limit-store.ts), as the control plane applies it
    const valid = SettableCpsLimit.safeParse(args.limit)
    if (!valid.success)
      throw usageError(
        // The rule's own aside (how to stop dialing) is the suggestion below, given once with its commands.
        `The limit ${(valid.error.issues[0]?.message ?? 'is invalid').replace(/ \(.*\)$/, '')} (got ${args.limit}).`,
        args.limit < 1
          ? 'To stop dialing, pause the campaigns (dialctl campaign pause ID --reason …) or stop the pipe (dialctl pipe stop).'
          : 'Give a whole number of calls per second within the bounds above.',
      )
    if (args.limit > ceiling && !flags.force)
      throw usageError(
        `${args.limit} cps is above the ceiling of ${ceiling}.`,
        'Check the trunk can take it, then add --force (or raise DIALCTL_CPS_CEILING).',
        'ABOVE_CEILING',
      )
    if (flags.reason.trim() === '')
      throw usageError('--reason is empty.', 'Say why, e.g. --reason "carrier asked"')
    let until: number | null = null
    if (flags.for !== undefined) {
      try {
        until = holdEnd(parseInterval(flags.for))
      } catch (error) {
        throw usageError(
          `--for ${flags.for}: ${errorMessage(error)}`,
          'Use e.g. --for 30m or --for 2h, or leave --for out to hold until `dialctl cps auto --resume`.',
        )
      }
    }
    const plane = await this.control()
    const change = await plane.setLimit(args.limit, flags.reason, this.actor(), 'cli', {
      hold: { untilMs: until },
    })
    const c = colors()
    this.log(
      `${c.green('✓')} CPS limit ${change.oldLimit ?? 'default'} → ${c.bold(String(change.newLimit))} on ${plane.stage} (by ${change.actor}: ${change.reason})`,
    )
    this.log(
      `  held ${until === null ? 'until `dialctl cps auto --resume`' : `until ${new Date(until).toISOString()}`}: the adaptive pacer will not change it`,
    )
    return { stage: plane.stage, change }
  }
}
