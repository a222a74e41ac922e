import { audioCheckFlag, CampaignMoveCommand, reasonFlag } from '../../src/cli/campaign-move-command.js'

export default class CampaignStart extends CampaignMoveCommand {
  static override move = 'start' as const
  static override summary = 'Activate a draft campaign: the dispatcher starts queueing its contacts'
  static override examples = [
    '<%= config.bin %> <%= command.id %> campaign-123',
    '<%= config.bin %> <%= command.id %> campaign-123 --no-audio-check',
  ]
  static override flags = { reason: reasonFlag(false), 'audio-check': audioCheckFlag }
}
