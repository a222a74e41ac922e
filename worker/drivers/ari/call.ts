import type { Logger } from '../../../src/observability/logger.js'
import type { ActiveCall, CallEndReason, DigitResult, PlayResult } from '../../../src/telephony/driver.js'
import type { AriClient } from './client.js'
import { AriHttpError } from './rest.js'
import type { AriEvent } from './events.js'
import { Q850, SOFT_HANGUP, mediaUriFor } from './outcome.js'
import { errorMessage } from '../../../src/errors.js'

export interface AriCallOptions {
  /** how long hangup() waits for ChannelDestroyed to learn the cause */
  hangupWaitMs: number
  /** called once when the channel is gone, whatever ended it */
  onEnded(callId: string): void
}

/**
 * An answered ARI channel. Events reach it through the driver's channel listener. Every method
 * resolves (never rejects); once the channel is gone they resolve at once with "hung up".
 */
export class AriCall implements ActiveCall {
  private ended = false
  private reportedEnded = false
  private cause: number | undefined
  private reason: CallEndReason | undefined
  private playbackSeq = 0
  /** digits pressed while nobody was waiting (during a prompt): the next collectDigit takes them */
  private readonly typeahead: string[] = []
  private digitWaiter: ((result: DigitResult) => void) | undefined
  private readonly playbacks = new Map<string, (result: PlayResult) => void>()
  private readonly endWaiters = new Set<() => void>()

  constructor(
    readonly callId: string,
    private readonly client: AriClient,
    private readonly log: Logger,
    private readonly options: AriCallOptions,
  ) {}

  get hungUp(): boolean {
    return this.ended
  }

  get hangupCause(): number | undefined {
    return this.cause
  }

  get endReason(): CallEndReason | undefined {
    return this.reason
  }

  /** ids of playbacks still waiting for PlaybackFinished (reconciliation checks them) */
  pendingPlaybackIds(): string[] {
    return [...this.playbacks.keys()]
  }

  async play(audioUrl: string): Promise<PlayResult> {
    if (this.ended) return { completed: false }
    let media: string
    try {
      media = mediaUriFor(audioUrl)
    } catch (error) {
      return { completed: false, mediaFailed: true, error: errorMessage(error) }
    }
    const playbackId = `${this.callId}-pb${++this.playbackSeq}`
    // Registered before the POST: PlaybackFinished may arrive before the REST answer does.
    const finished = new Promise<PlayResult>((resolve) => this.playbacks.set(playbackId, resolve))
    try {
      await this.client.play(this.callId, playbackId, [media])
    } catch (error) {
      this.playbacks.delete(playbackId)
      if (this.ended) return { completed: false }
      const message = `Asterisk refused to play ${media}: ${errorMessage(error)}`
      this.log.warn('ARI play refused', { callId: this.callId, error: message })
      // 400/422: Asterisk rejected the media URI itself; anything else (409 not in Stasis, 404
      // channel gone, ARI unreachable) is about the channel, not the audio.
      const mediaFailed = error instanceof AriHttpError && (error.status === 400 || error.status === 422)
      return { completed: false, error: message, ...(mediaFailed ? { mediaFailed } : {}) }
    }
    return finished
  }

  collectDigit(timeoutSeconds: number): Promise<DigitResult> {
    if (this.ended) return Promise.resolve({ kind: 'hangup' })
    const buffered = this.typeahead.shift()
    if (buffered !== undefined) return Promise.resolve({ kind: 'digit', digit: buffered })
    // One collector at a time: a second call supersedes the first, which times out now.
    this.digitWaiter?.({ kind: 'timeout' })
    return new Promise<DigitResult>((resolve) => {
      const timer = setTimeout(() => finish({ kind: 'timeout' }), Math.max(0, timeoutSeconds * 1000))
      const finish = (result: DigitResult): void => {
        clearTimeout(timer)
        if (this.digitWaiter === finish) this.digitWaiter = undefined
        resolve(result)
      }
      this.digitWaiter = finish
    })
  }

  async hangup(): Promise<{ hangupCause?: number }> {
    if (this.ended) return { hangupCause: this.cause }
    const destroyed = new Promise<void>((resolve) => this.endWaiters.add(resolve))
    try {
      const existed = await this.client.hangup(this.callId, { reasonCode: Q850.NORMAL_CLEARING })
      if (!existed) this.markEnded(this.cause)
    } catch (error) {
      // ARI unreachable: the channel dies with Asterisk or is reconciled on reconnect; the call is
      // over for us either way, and the runner must not wait on it.
      this.log.warn('ARI hangup failed; treating the call as ended', {
        callId: this.callId,
        error: errorMessage(error),
      })
      this.markEnded(this.cause ?? Q850.NORMAL_CLEARING)
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      destroyed,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.hangupWaitMs)
      }),
    ])
    clearTimeout(timer)
    if (!this.ended) this.markEnded(Q850.NORMAL_CLEARING)
    return { hangupCause: this.cause }
  }

  /** Routed here by the driver for this channel's events after StasisStart. */
  handle(event: AriEvent): void {
    switch (event.type) {
      case 'ChannelDtmfReceived': {
        if (this.ended) return
        const waiter = this.digitWaiter
        if (waiter) waiter({ kind: 'digit', digit: event.digit })
        else this.typeahead.push(event.digit)
        return
      }
      case 'PlaybackFinished': {
        const resolve = this.playbacks.get(event.playback.id)
        if (!resolve) return
        this.playbacks.delete(event.playback.id)
        if (event.playback.state === 'failed') {
          // Asterisk also reports "failed" for a playback cut by a hang-up (recorded: the callee
          // hanging up mid-prompt, Asterisk shutting down); only a failure on a live channel is
          // the media's fault. The hang-up request usually arrives first, but ask to be sure.
          void this.judgePlaybackFailure(event.playback.media_uri).then(resolve)
        } else {
          resolve({ completed: !this.ended })
        }
        return
      }
      case 'ChannelHangupRequest':
        if (event.soft) {
          // A soft request's `cause` is a flag set, not a Q.850 cause (recorded: 32 for our own
          // DELETE, 4 when Asterisk shuts down); ChannelDestroyed brings the real cause.
          if (event.cause === SOFT_HANGUP.SHUTDOWN) this.reason ??= 'telephony-restart'
        } else if (event.cause !== undefined && event.cause !== Q850.UNKNOWN) {
          this.cause = event.cause
        }
        // The callee (or Asterisk) hung up: stop waiting now; ChannelDestroyed brings the final cause.
        this.markHungUp()
        return
      case 'StasisEnd':
        // The channel left our application (hung up or moved away): we cannot drive it any more.
        this.markHungUp()
        return
      case 'ChannelDestroyed':
        this.markEnded(event.cause)
        return
      default:
        return
    }
  }

  private async judgePlaybackFailure(mediaUri: string): Promise<PlayResult> {
    if (!this.ended) {
      const channel = await this.client.getChannel(this.callId).catch(() => null)
      // null: ARI unreachable — we cannot tell, and the reconnect will settle the call.
      if (channel && !this.ended) {
        return {
          completed: false,
          mediaFailed: true,
          error: `Asterisk could not play ${mediaUri} (playback failed on a live channel: unreachable or missing URL, a format Asterisk cannot play such as mp3 without format_mp3, or an HTTP media cache failure)`,
        }
      }
    }
    return { completed: false }
  }

  /** A playback whose PlaybackFinished was lost (e.g. during a reconnect) and is over. */
  resolveLostPlayback(playbackId: string): void {
    const resolve = this.playbacks.get(playbackId)
    if (!resolve) return
    this.playbacks.delete(playbackId)
    resolve({ completed: !this.ended })
  }

  private markHungUp(): void {
    if (this.ended) return
    this.ended = true
    this.releaseWaiters()
  }

  /** The channel is gone: resolve everything still waiting, tell the driver once. */
  markEnded(cause: number | undefined, reason?: CallEndReason): void {
    if (reason && !this.ended) this.reason ??= reason
    if (cause !== undefined && (cause !== Q850.UNKNOWN || this.cause === undefined)) this.cause = cause
    this.ended = true
    this.releaseWaiters()
    for (const resolve of [...this.endWaiters]) resolve()
    this.endWaiters.clear()
    if (!this.reportedEnded) {
      this.reportedEnded = true
      this.options.onEnded(this.callId)
    }
  }

  private releaseWaiters(): void {
    this.digitWaiter?.({ kind: 'hangup' })
    this.digitWaiter = undefined
    for (const resolve of this.playbacks.values()) resolve({ completed: false })
    this.playbacks.clear()
  }
}
