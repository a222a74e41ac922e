import { ControlCommand } from '../../src/cli/control-command.js'
import { campaignTable } from '../../src/cli/campaign-view.js'
import type { CampaignSummary } from '../../src/control/port.js'

export default class CampaignList extends ControlCommand<typeof CampaignList> {
  static override summary = 'List campaigns with their status, window and contacts by state'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  async run(): Promise<CampaignSummary[]> {
    const plane = await this.control()
    const campaigns = await plane.listCampaigns()
    this.log(
      campaigns.length
        ? campaignTable(campaigns)
        : 'No campaign yet. Create one: dialctl campaign create --file campaign.json',
    )
    return campaigns
  }
}
