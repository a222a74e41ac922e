import { CampaignMoveCommand, reasonFlag } from '../../src/cli/campaign-move-command.js'

export default class CampaignPause extends CampaignMoveCommand {
  static override move = 'pause' as const
  static override summary =
    'Pause a campaign: nothing more is queued, queued tasks go back to pending, none is lost'
  static override examples = [
    '<%= config.bin %> <%= command.id %> campaign-123 --reason "complaint from the carrier"',
  ]
  static override flags = { reason: reasonFlag(true) }
}
