import { BaseCommand } from '../../src/cli/base-command.js'
import { campaignFileJsonSchema } from '../../src/contracts/campaign.js'

export default class CampaignSchema extends BaseCommand<typeof CampaignSchema> {
  static override summary = 'Print the JSON Schema of campaign files (for editors)'
  static override description =
    'Generated from the same zod schema `campaign create` validates with, so an editor that knows it completes and checks a campaign file as you type. Save it next to your files and point "$schema" at it (the files in examples/ do). The graph rules of the IVR (every nextNodeId resolves, no unreachable node, no silent loop) need `campaign create`: a schema cannot say them.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> > campaign.schema.json',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  async run(): Promise<Record<string, unknown>> {
    const schema = campaignFileJsonSchema()
    if (!this.jsonEnabled()) this.log(JSON.stringify(schema, null, 2))
    return schema
  }
}
