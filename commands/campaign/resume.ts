import { CampaignMoveCommand } from '../../src/cli/campaign-move-command.js'

export default class CampaignResume extends CampaignMoveCommand {
  static override move = 'resume' as const
  static override summary = 'Resume a paused campaign'
  static override examples = ['<%= config.bin %> <%= command.id %> campaign-123']
}
