import { Args, Flags } from '@oclif/core'
import type { CampaignMove, CampaignTransition } from '../control/port.js'
import { transitionLine } from './campaign-view.js'
import { ControlCommand } from './control-command.js'

/** The `--reason` flag of a lifecycle move; pause, complete and cancel require one. */
export function reasonFlag(required: boolean) {
  return required
    ? Flags.string({ description: 'why (kept in the audit trail)', required: true })
    : Flags.string({ description: 'why (kept in the audit trail)' })
}

/**
 * `campaign start|pause|resume|complete|cancel ID`: one lifecycle move, checked and audited by the
 * control plane. Each command only names its move, summary and examples.
 */
export abstract class CampaignMoveCommand extends ControlCommand<typeof CampaignMoveCommand> {
  static move: CampaignMove
  static override description =
    'The move is checked against the campaign lifecycle (draft → active ⇄ paused → completed / cancelled) and recorded with who, when and why. Completed and cancelled are final.'
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }
  static override flags = { reason: reasonFlag(false) }

  async run(): Promise<CampaignTransition> {
    const ctor = this.ctor as typeof CampaignMoveCommand
    // Explicit fields: oclif spreads the options object, and a subclass's inherited statics (args,
    // description) are not own properties, so passing the class itself would lose them.
    const { args, flags } = await this.parse({
      args: ctor.args,
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      strict: ctor.strict,
    })
    const plane = await this.control()
    const move = await plane.transitionCampaign(args.id, ctor.move, flags.reason ?? null, this.actor())
    this.log(transitionLine(move))
    return move
  }
}
