import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { transitionLine } from '../../src/cli/campaign-view.js'
import type { CampaignTransition } from '../../src/control/port.js'

export default class CampaignStart extends ControlCommand<typeof CampaignStart> {
  static override summary = 'Activate a draft campaign: the dispatcher starts queueing its contacts'
  static override description =
    'The move is checked against the campaign lifecycle (draft → active ⇄ paused → completed / cancelled) and recorded with who, when and why.'
  static override examples = ['<%= config.bin %> <%= command.id %> campaign-123']
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }
  static override flags = {
    reason: Flags.string({ description: 'why (kept in the audit trail)' }),
  }

  async run(): Promise<CampaignTransition> {
    const { args, flags } = await this.parse(CampaignStart)
    const plane = await this.control()
    const move = await plane.transitionCampaign(args.id, 'start', flags.reason ?? null, this.actor())
    this.log(transitionLine(move))
    return move
  }
}
