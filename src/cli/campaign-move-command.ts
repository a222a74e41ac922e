import { Args, Flags } from '@oclif/core'
import { OperatorError } from '../errors.js'
import type { CampaignMove, CampaignTransition, ControlPlane } from '../control/port.js'
import { checkAudioUrl, describeAudioChecks } from '../telephony/audio-check.js'
import { transitionLine } from './campaign-view.js'
import { ControlCommand } from './control-command.js'

/** The `--reason` flag of a lifecycle move; pause, complete and cancel require one. */
export function reasonFlag(required: boolean) {
  return required
    ? Flags.string({ description: 'why (kept in the audit trail)', required: true })
    : Flags.string({ description: 'why (kept in the audit trail)' })
}

/** The `--audio-check` flag of the moves that make a campaign dial (start, resume). */
export const audioCheckFlag = Flags.boolean({
  description:
    'fetch each audio URL as Asterisk will before the campaign dials: reachable, a format it plays (not mp3), cache headers, a URL long enough for its media cache',
  default: true,
  allowNo: true,
})

/**
 * Before a campaign dials: each of its audio URLs checked as Asterisk will fetch it
 * (audio-check.ts). A failure refuses the move (nothing changes) with what to fix; warnings are
 * printed. The check is an early warning — the worker's media-failure outcome and the media guard
 * still hold at the moment of the call.
 */
export async function checkCampaignAudio(
  plane: ControlPlane,
  id: string,
  move: CampaignMove,
  warn: (line: string) => void,
): Promise<void> {
  const [media] = await plane.campaignMedia(15, id)
  if (!media) return // unknown id: the move itself reports it
  const checks = await Promise.all(media.audioUrls.map((url) => checkAudioUrl(url)))
  const lines = describeAudioChecks(checks)
  if (checks.some((c) => c.status === 'fail'))
    throw new OperatorError(
      `Campaign ${id}'s audio will not play on Asterisk (not ${move === 'start' ? 'started' : 'resumed'}):\n${lines.join('\n')}`,
      `Publish a playable file at each URL (8 kHz mono WAV with cache headers, docs/asterisk.md "Audio"), then run dialctl campaign ${move} ${id} again. (--no-audio-check skips this when this machine cannot reach the media server.)`,
      1,
      'AUDIO_CHECK_FAILED',
    )
  for (const line of lines) warn(line)
}

/**
 * `campaign start|pause|resume|complete|cancel ID`: one lifecycle move, checked and audited by the
 * control plane. Each command only names its move, summary and examples.
 */
export abstract class CampaignMoveCommand extends ControlCommand<typeof CampaignMoveCommand> {
  static move: CampaignMove
  static override description =
    'The move is checked against the campaign lifecycle (draft → active ⇄ paused → completed / cancelled) and recorded with who, when and why. Completed and cancelled are final.'
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }
  static override flags = { reason: reasonFlag(false) }

  async run(): Promise<CampaignTransition> {
    const ctor = this.ctor as typeof CampaignMoveCommand
    // Explicit fields: oclif spreads the options object, and a subclass's inherited statics (args,
    // description) are not own properties, so passing the class itself would lose them.
    const { args, flags } = await this.parse({
      args: ctor.args,
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      strict: ctor.strict,
    })
    const plane = await this.control()
    if ((flags as { 'audio-check'?: boolean })['audio-check'])
      await checkCampaignAudio(plane, args.id, ctor.move, (line) => this.logToStderr(line))
    const move = await plane.transitionCampaign(args.id, ctor.move, flags.reason ?? null, this.actor())
    this.log(transitionLine(move))
    return move
  }
}
