import type { CallOutcome, OriginateResult } from '../../../src/telephony/driver.js'

/**
 * How a channel that ended before it was answered maps to the recorded outcome (Q.850 causes as
 * Asterisk reports them in ChannelDestroyed.cause; see Asterisk's "Hangup Cause Mappings").
 */
export const Q850 = {
  UNKNOWN: 0,
  UNALLOCATED: 1,
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  NO_USER_RESPONSE: 18,
  NO_ANSWER: 19,
  CALL_REJECTED: 21,
  NORMAL_UNSPECIFIED: 31,
  NORMAL_CIRCUIT_CONGESTION: 34,
  NETWORK_OUT_OF_ORDER: 38,
  TEMPORARY_FAILURE: 41,
  SWITCH_CONGESTION: 42,
  REQUESTED_CHAN_UNAVAIL: 44,
} as const

const BUSY = new Set<number>([Q850.USER_BUSY])
// 21 (rejected): the callee declined or the phone auto-rejected; for pacing and retries it is the
// same as not answering, and SIP 603 from a handset is usually a person pressing "decline".
const NO_ANSWER = new Set<number>([Q850.NO_USER_RESPONSE, Q850.NO_ANSWER, Q850.CALL_REJECTED])
const CONGESTION = new Set<number>([
  Q850.NORMAL_CIRCUIT_CONGESTION,
  Q850.NETWORK_OUT_OF_ORDER,
  Q850.TEMPORARY_FAILURE,
  Q850.SWITCH_CONGESTION,
  Q850.REQUESTED_CHAN_UNAVAIL,
])
// Causes that say nothing about why (normal clearing before answer, unknown): fall back to the
// Dial event's status, then to whether the ring time ran out.
const AMBIGUOUS = new Set<number>([Q850.UNKNOWN, Q850.NORMAL_CLEARING, Q850.NORMAL_UNSPECIFIED])

export interface UnansweredContext {
  /** last non-empty `dialstatus` of a Dial event for the channel (BUSY, NOANSWER, CONGESTION, …) */
  dialStatus?: string
  /** the ring timeout had elapsed when the channel ended */
  ringTimedOut: boolean
}

export function outcomeForUnanswered(cause: number | undefined, context: UnansweredContext): CallOutcome {
  if (cause !== undefined && BUSY.has(cause)) return 'busy'
  if (cause !== undefined && NO_ANSWER.has(cause)) return 'no-answer'
  if (cause !== undefined && CONGESTION.has(cause)) return 'congestion'
  if (cause === undefined || AMBIGUOUS.has(cause)) {
    switch (context.dialStatus) {
      case 'BUSY':
        return 'busy'
      case 'NOANSWER':
        return 'no-answer'
      case 'CONGESTION':
        return 'congestion'
      case 'CHANUNAVAIL':
        return 'failed'
    }
    return context.ringTimedOut ? 'no-answer' : 'failed'
  }
  return 'failed'
}

/** The cause a dial status stands for (Asterisk's Dial() DIALSTATUS → Q.850). */
const CAUSE_OF_DIAL_STATUS: Record<string, number> = {
  BUSY: Q850.USER_BUSY,
  CHANUNAVAIL: Q850.REQUESTED_CHAN_UNAVAIL,
  CONGESTION: Q850.NORMAL_CIRCUIT_CONGESTION,
  NOANSWER: Q850.NO_ANSWER,
}

/**
 * The hang-up cause to record for a channel that ended before answer. Asterisk reports cause 0
 * ("Unknown") on the originated channel when the callee side ran Busy() or Congestion() (recorded
 * from Asterisk 22: `Dial` BUSY then `ChannelDestroyed` cause 0), so an ambiguous cause is replaced
 * by the one the dial status implies (17 busy, 34 congestion, 19 no answer, 44 unavailable).
 */
export function causeForUnanswered(
  cause: number | undefined,
  dialStatus: string | undefined,
): number | undefined {
  if (cause !== undefined && !AMBIGUOUS.has(cause)) return cause
  const implied = dialStatus ? CAUSE_OF_DIAL_STATUS[dialStatus] : undefined
  return implied ?? cause
}

/**
 * What originate reports for a channel that ended before answer (ChannelDestroyed while ringing):
 * the outcome and cause above, and for `failed` the reason Asterisk gave.
 */
export function resultForUnanswered(
  ended: { cause: number; cause_txt?: string },
  context: UnansweredContext,
): OriginateResult {
  const outcome = outcomeForUnanswered(ended.cause, context)
  const hangupCause = causeForUnanswered(ended.cause, context.dialStatus)
  return {
    outcome,
    ...(hangupCause !== undefined ? { hangupCause } : {}),
    ...(outcome === 'failed'
      ? { error: `channel ended before answer: ${ended.cause_txt ?? 'cause ' + ended.cause}` }
      : {}),
  }
}

/**
 * Soft hang-up flags Asterisk puts in `ChannelHangupRequest.cause` when `soft` is true (include/asterisk/channel.h,
 * enum ast_channel_softhangup_flags): SHUTDOWN is set on every channel when Asterisk stops
 * gracefully (`core stop/restart`), EXPLICIT when an application (ARI DELETE) hangs it up.
 */
export const SOFT_HANGUP = { SHUTDOWN: 4, EXPLICIT: 32 } as const

/** ARI media URI schemes a flow may name directly. */
const MEDIA_SCHEMES = ['sound:', 'recording:', 'number:', 'digits:', 'characters:', 'tone:']

/**
 * The ARI media URI for a flow's audio: ARI names are passed through; http(s) URLs are played
 * through Asterisk's HTTP media support as `sound:<url>` (the form Asterisk's ARI media
 * documentation gives, e.g. `sound:http://foo.com/sound.wav`; needs res_http_media_cache).
 * Throws with what to fix when the value cannot be played.
 */
export function mediaUriFor(audioUrl: string): string {
  const value = audioUrl.trim()
  if (/^https?:\/\//i.test(value)) {
    // ARI splits the media parameter on commas (a playlist); a URL with one would be cut in two.
    if (value.includes(','))
      throw new Error(`audioUrl "${value}" contains a comma; ARI would split it, rename the file`)
    return `sound:${value}`
  }
  if (MEDIA_SCHEMES.some((scheme) => value.startsWith(scheme))) {
    if (value.startsWith('sound:http') && value.includes(',')) {
      throw new Error(`audioUrl "${value}" contains a comma; ARI would split it, rename the file`)
    }
    return value
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    throw new Error(
      `audioUrl "${value}" uses a scheme Asterisk cannot play; use http(s)://…, or sound:<name> for a file on the Asterisk server`,
    )
  }
  // A bare name ("hello-world", "custom/donate") is a sound file on the Asterisk server.
  return `sound:${value}`
}
