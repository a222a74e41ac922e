import { CampaignMoveCommand, reasonFlag } from '../../src/cli/campaign-move-command.js'

export default class CampaignCancel extends CampaignMoveCommand {
  static override move = 'cancel' as const
  static override summary = 'Cancel a campaign: final, nothing more is dialed'
  static override examples = ['<%= config.bin %> <%= command.id %> campaign-123 --reason "season over"']
  static override flags = { reason: reasonFlag(true) }
}
