import { readFile } from 'node:fs/promises'
import { Args, Flags } from '@oclif/core'
import { parseCampaignFileText } from '../../src/campaigns/campaign-file.js'
import { ControlCommand } from '../../src/cli/control-command.js'
import { inputFile } from '../../src/cli/input-file.js'
import { campaignDetail } from '../../src/cli/campaign-view.js'
import { campaignNextStep } from '../../src/campaigns/next-step.js'
import { OperatorError } from '../../src/errors.js'
import type { CampaignSummary } from '../../src/control/port.js'
import { validateCampaign } from '../../src/ivr/validate.js'
import { audioUrlsOf, checkAudioUrl, describeAudioChecks } from '../../src/telephony/audio-check.js'

export default class CampaignCreate extends ControlCommand<typeof CampaignCreate> {
  static override summary = 'Create a campaign (as draft) from a campaign file'
  static override description =
    'The file is JSON (comments allowed): id, name, timezone and config {audioFileUrl, ivrFlow, callingWindows, maxConcurrentCalls, maxAttemptsPerContact, retryDelayMinutes?, callerId?, autoComplete?}. Complete, commented examples are in examples/; `dialctl campaign schema` prints the JSON Schema editors validate against. Every problem is listed at once, naming the field and the IVR node. Then import its contacts and start it (`dialctl contacts import --campaign ID FILE`, `dialctl campaign start ID`); a test campaign (--test) gets its contacts from `dialctl load-test --campaign ID`, which also starts it. The last line says what the campaign needs next.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> examples/donation-drive-jerusalem.jsonc',
    '<%= config.bin %> <%= command.id %> --file campaign.json',
    '<%= config.bin %> <%= command.id %> examples/load-test.jsonc --test --no-audio-check',
  ]
  static override args = {
    file: Args.string({ description: 'campaign file (JSON with comments); or --file', required: false }),
  }
  static override flags = {
    file: Flags.string({ char: 'f', description: 'campaign file (same as the FILE argument)' }),
    test: Flags.boolean({ description: 'mark it as a test campaign (the only kind load-test may use)' }),
    'audio-check': Flags.boolean({
      description:
        'fetch each audio URL as Asterisk will: reachable, a format it plays (not mp3), cache headers, a URL long enough for its media cache',
      default: true,
      allowNo: true,
    }),
  }

  async run(): Promise<CampaignSummary> {
    const { args, flags } = await this.parse(CampaignCreate)
    if (args.file && flags.file && args.file !== flags.file)
      throw new OperatorError(
        `Two campaign files given: ${args.file} and --file ${flags.file}.`,
        'Give one: dialctl campaign create FILE',
        2,
        'USAGE',
      )
    const path = args.file ?? flags.file
    if (!path)
      throw new OperatorError(
        'No campaign file given.',
        'Name one: dialctl campaign create examples/donation-drive-jerusalem.jsonc (examples/ has complete, commented files).',
        2,
        'USAGE',
      )
    await inputFile(path, 'campaign file', 'dialctl campaign create examples/donation-drive-jerusalem.jsonc')
    let doc: unknown
    try {
      doc = parseCampaignFileText(await readFile(path, 'utf8'))
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      throw new OperatorError(
        e.code ? `Cannot read ${path} (${e.code}).` : `${path} is not valid JSON: ${e.message}`,
        'Check the path and the JSON syntax (comments are allowed); examples/ has files that work.',
        1,
        'BAD_FILE',
      )
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw new OperatorError(
        `${path} must hold one JSON object.`,
        'Start from a file in examples/ (e.g. examples/donation-drive-jerusalem.jsonc).',
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
          `Fix the audio URLs in ${path} and run the command again. (--no-audio-check skips this when this machine cannot reach the media server.)`,
          1,
          'AUDIO_CHECK_FAILED',
        )
      for (const line of lines) this.logToStderr(line)
    }
    const plane = await this.control()
    const campaign = await plane.createCampaign({ campaign: doc, isTest: flags.test, actor: this.actor() })
    this.log(campaignDetail(campaign))
    const next = campaignNextStep(campaign)
    if (next) this.log(`Next: ${next}`)
    return campaign
  }
}
