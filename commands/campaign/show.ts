import { Args } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { campaignDetail } from '../../src/cli/campaign-view.js'
import type { CampaignSummary } from '../../src/control/port.js'

export default class CampaignShow extends ControlCommand<typeof CampaignShow> {
  static override summary =
    'Show one campaign: window, contacts by state, attempts, answer rate, donations, ETA'
  static override examples = [
    '<%= config.bin %> <%= command.id %> campaign-123',
    '<%= config.bin %> <%= command.id %> campaign-123 --json',
  ]
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }

  async run(): Promise<CampaignSummary> {
    const { args } = await this.parse(CampaignShow)
    const plane = await this.control()
    const campaign = await plane.showCampaign(args.id)
    this.log(campaignDetail(campaign))
    return campaign
  }
}
