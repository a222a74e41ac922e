import { audioCheckFlag, CampaignMoveCommand, reasonFlag } from '../../src/cli/campaign-move-command.js'

export default class CampaignResume extends CampaignMoveCommand {
  static override move = 'resume' as const
  static override summary = 'Resume a paused campaign'
  static override examples = [
    '<%= config.bin %> <%= command.id %> campaign-123',
    '<%= config.bin %> <%= command.id %> campaign-123 --no-audio-check',
  ]
  static override flags = { reason: reasonFlag(false), 'audio-check': audioCheckFlag }
}
