import { CampaignMoveCommand, reasonFlag } from '../../src/cli/campaign-move-command.js'

export default class CampaignComplete extends CampaignMoveCommand {
  static override move = 'complete' as const
  static override summary = 'Mark a campaign completed: final, nothing more is dialed'
  static override examples = ['<%= config.bin %> <%= command.id %> campaign-123 --reason "season over"']
  static override flags = { reason: reasonFlag(true) }
}
