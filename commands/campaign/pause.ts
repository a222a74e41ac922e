import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { transitionLine } from '../../src/cli/campaign-view.js'
import type { CampaignTransition } from '../../src/control/port.js'

export default class CampaignPause extends ControlCommand<typeof CampaignPause> {
  static override summary =
    'Pause a campaign: nothing more is queued, queued tasks go back to pending, none is lost'
  static override description =
    'The move is checked against the campaign lifecycle (draft → active ⇄ paused → completed / cancelled) and recorded with who, when and why.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> campaign-123 --reason "complaint from the carrier"',
  ]
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }
  static override flags = {
    reason: Flags.string({ description: 'why (kept in the audit trail)', required: true }),
  }

  async run(): Promise<CampaignTransition> {
    const { args, flags } = await this.parse(CampaignPause)
    const plane = await this.control()
    const move = await plane.transitionCampaign(args.id, 'pause', flags.reason ?? null, this.actor())
    this.log(transitionLine(move))
    return move
  }
}
