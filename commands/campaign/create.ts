import { readFile } from 'node:fs/promises'
import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { campaignDetail } from '../../src/cli/campaign-view.js'
import { OperatorError } from '../../src/errors.js'
import type { CampaignSummary } from '../../src/control/port.js'
import { validateCampaign } from '../../src/ivr/validate.js'
import { audioUrlsOf, checkAudioUrl, describeAudioChecks } from '../../src/telephony/audio-check.js'

export default class CampaignCreate extends ControlCommand<typeof CampaignCreate> {
  static override summary = 'Create a campaign (as draft) from a JSON file'
  static override description =
    "The file is a campaign in the seed's shape (id, name, config {audioFileUrl, ivrFlow, callingWindows, maxConcurrentCalls, maxAttemptsPerContact}, timezone). Every problem is listed at once, naming the field and the IVR node. Start it with `dialctl campaign start ID` after importing contacts."
  static override examples = [
    '<%= config.bin %> <%= command.id %> --file campaign.json',
    '<%= config.bin %> <%= command.id %> --file load-test-campaign.json --test',
  ]
  static override flags = {
    file: Flags.string({ char: 'f', description: 'campaign JSON file', required: true }),
    test: Flags.boolean({ description: 'mark it as a test campaign (the only kind load-test may use)' }),
    'audio-check': Flags.boolean({
      description:
        'fetch each audio URL as Asterisk will: reachable, a format it plays (not mp3), cache headers, a URL long enough for its media cache',
      default: true,
      allowNo: true,
    }),
  }

  async run(): Promise<CampaignSummary> {
    const { flags } = await this.parse(CampaignCreate)
    let doc: unknown
    try {
      doc = JSON.parse(await readFile(flags.file, 'utf8'))
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      throw new OperatorError(
        e.code ? `Cannot read ${flags.file} (${e.code}).` : `${flags.file} is not valid JSON: ${e.message}`,
        'Check the path and the JSON syntax.',
        1,
        'BAD_FILE',
      )
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw new OperatorError(
        `${flags.file} must hold one JSON object.`,
        'See the example in README.md (Campaigns and contacts).',
        1,
      )
    // Audio first, on a document that is otherwise valid (an invalid one gets every field
    // listed by createCampaign): a campaign whose audio cannot play is not saved.
    if (flags['audio-check'] && validateCampaign({ status: 'draft', type: 'voice', ...doc }).ok) {
      const config = (doc as { config?: unknown }).config
      const checks = await Promise.all(audioUrlsOf(config).map((url) => checkAudioUrl(url)))
      const lines = describeAudioChecks(checks)
      if (checks.some((c) => c.status === 'fail'))
        throw new OperatorError(
          `The campaign's audio will not play on Asterisk (nothing saved):\n${lines.join('\n')}`,
          `Fix the audio URLs in ${flags.file} and run the command again. (--no-audio-check skips this when this machine cannot reach the media server.)`,
          1,
          'AUDIO_CHECK_FAILED',
        )
      for (const line of lines) this.logToStderr(line)
    }
    const plane = await this.control()
    const campaign = await plane.createCampaign({ campaign: doc, isTest: flags.test, actor: this.actor() })
    this.log(campaignDetail(campaign))
    this.log(`Next: dialctl contacts import --campaign ${campaign.campaignId} contacts.csv`)
    return campaign
  }
}
