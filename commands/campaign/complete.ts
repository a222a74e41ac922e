import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { transitionLine } from '../../src/cli/campaign-view.js'
import type { CampaignTransition } from '../../src/control/port.js'

export default class CampaignComplete extends ControlCommand<typeof CampaignComplete> {
  static override summary = 'Mark a campaign completed: final, nothing more is dialed'
  static override description =
    'The move is checked against the campaign lifecycle (draft → active ⇄ paused → completed / cancelled) and recorded with who, when and why. Completed and cancelled are final.'
  static override examples = ['<%= config.bin %> <%= command.id %> campaign-123 --reason "season over"']
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }
  static override flags = {
    reason: Flags.string({ description: 'why (kept in the audit trail)', required: true }),
  }

  async run(): Promise<CampaignTransition> {
    const { args, flags } = await this.parse(CampaignComplete)
    const plane = await this.control()
    const move = await plane.transitionCampaign(args.id, 'complete', flags.reason, this.actor())
    this.log(transitionLine(move))
    return move
  }
}
