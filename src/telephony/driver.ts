/**
 * The telephony driver the IVR runner talks to. `sim` (simulated callee, local stack and tests)
 * and `ari` (Asterisk REST Interface, production) implement it; the runner does not care which.
 */
export type CallOutcome = 'answered' | 'no-answer' | 'busy' | 'congestion' | 'failed' | 'machine'

/**
 * Asterisk's AMD() verdict (AMDSTATUS): MACHINE, HUMAN, NOTSURE, or HANGUP (the line went away
 * during detection). `cause` is AMDCAUSE, e.g. "LONGGREETING-2100-1500", "HUMAN-1000-800".
 */
export interface AmdResult {
  status: 'HUMAN' | 'MACHINE' | 'NOTSURE' | 'HANGUP'
  cause?: string
}

export interface OriginateRequest {
  /** becomes the channel id on ARI, so events map back without a lookup */
  callId: string
  phoneNumber: string
  callerId?: string
  /** seconds to ring before giving up (no-answer) */
  ringTimeoutSeconds: number
  variables: Record<string, string>
  /**
   * run answering-machine detection once answered: `voicemail` also waits for the greeting's end
   * (the beep) before handing the call back, so a message is recorded whole
   */
  amd?: 'hangup' | 'voicemail'
}

/**
 * Why a call failed or ended, in one word pacing, doctor and reports can count (call_attempts.reason
 * / ended_by). Keep sorted.
 */
export type CallEndReason =
  /** the prompt could not be played (unreachable URL, 404, a format Asterisk cannot play) */
  | 'media'
  /** Asterisk shut down or went away (restart, crash) while the call was up or ringing */
  | 'telephony-restart'
  /** the worker process died mid-call; its successor found the channel and hung it up */
  | 'worker-restart'

export interface OriginateResult {
  outcome: CallOutcome
  /** Q.850 hang-up cause when the call did not connect (17 busy, 19 no answer, 34 congestion …) */
  hangupCause?: number
  error?: string
  /** set on `failed` when the cause is one the caller treats specially (retry, counting) */
  reason?: CallEndReason
  /** on `answered` when the request asked for AMD: what the detection concluded */
  amd?: AmdResult
}

export type DigitResult = { kind: 'digit'; digit: string } | { kind: 'timeout' } | { kind: 'hangup' }

export interface PlayResult {
  /** false when the callee hung up during playback, or the media failed */
  completed: boolean
  error?: string
  /**
   * true when the channel was still up but the media could not be played (Asterisk's
   * PlaybackFinished with state "failed", or the play request refused): the callee heard nothing
   */
  mediaFailed?: boolean
}

/** An answered call. Every method resolves (never rejects) once the callee has hung up. */
export interface ActiveCall {
  readonly callId: string
  play(audioUrl: string): Promise<PlayResult>
  collectDigit(timeoutSeconds: number): Promise<DigitResult>
  hangup(): Promise<{ hangupCause?: number }>
  readonly hungUp: boolean
  /** Q.850 cause once the channel is gone (16 normal clearing, …), when the driver knows it */
  readonly hangupCause?: number
  /** set when the call was cut by the telephony side going away rather than by the callee */
  readonly endReason?: CallEndReason
}

export interface TelephonyDriver {
  readonly name: string
  /** rings the number; resolves with the answered call, or with why it did not connect */
  originate(request: OriginateRequest): Promise<{ result: OriginateResult; call?: ActiveCall }>
  /** true when the driver can place calls (ARI connected; sim always) */
  healthy(): boolean
  close(): Promise<void>
}
