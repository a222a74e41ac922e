import { CampaignMoveCommand } from '../../src/cli/campaign-move-command.js'

export default class CampaignStart extends CampaignMoveCommand {
  static override move = 'start' as const
  static override summary = 'Activate a draft campaign: the dispatcher starts queueing its contacts'
  static override examples = ['<%= config.bin %> <%= command.id %> campaign-123']
}
