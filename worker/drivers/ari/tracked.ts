import type { Logger } from '../../../src/observability/logger.js'
import type { ActiveCall, AmdResult, OriginateResult } from '../../../src/telephony/driver.js'
import { AriCall } from './call.js'
import type { AriClient } from './client.js'
import { AriDriverConfig } from './config.js'

/**
 * The ARI driver's state, shared by its phases (originate.ts → ringing.ts / amd.ts → call.ts,
 * reconcile.ts, connection.ts): the calls it follows, and the two steps every phase ends with —
 * settle (originate resolves) and answer (the call goes to the IVR).
 */

/** Where a followed call is: ringing (incl. AMD running on the answered line) or handed over. */
export type Stage = { phase: 'ringing' } | { phase: 'answered'; call: AriCall }

/** What originate resolves with. */
export interface Settled {
  result: OriginateResult
  call?: ActiveCall
}

export interface Tracked {
  callId: string
  /** Date.now() when originate was asked */
  startedAt: number
  ringMs: number
  stage: Stage
  dialStatus?: string
  /** Asterisk asked the channel to hang up because it is shutting down (soft hang-up SHUTDOWN) */
  shutdown?: boolean
  ringTimer?: NodeJS.Timeout
  /** answering-machine detection asked for (OriginateRequest.amd) */
  amd?: 'hangup' | 'voicemail'
  /** answered and sent to the AMD dialplan: waiting for StasisStart with the verdict */
  detecting?: boolean
  amdStatus?: string
  amdCause?: string
  amdTimer?: NodeJS.Timeout
  /** sequence number taken when Asterisk confirmed the channel exists (originate answered) */
  confirmedSeq?: number
  /** resolves originate; undefined once settled */
  settle?: (value: Settled) => void
  /** drops the channel listener */
  off(): void
}

/** Appended to Asterisk's ring timeout before we hang up ourselves; Asterisk normally ends it first. */
const DEFAULT_RING_GRACE_MS = 2_000

/** The parsed config with every driver-side default filled in. */
export interface DriverSettings extends AriDriverConfig {
  ringGraceMs: number
  hangupWaitMs: number
  disconnectGraceMs: number
  amdContext: string
  amdTimeoutMs: number
}

/** Parses the config (zod: throws naming the field) and fills in the defaults. */
export function resolveSettings(input: AriDriverConfig): DriverSettings {
  const config = AriDriverConfig.parse(input)
  return {
    ...config,
    ringGraceMs: config.ringGraceMs ?? DEFAULT_RING_GRACE_MS,
    hangupWaitMs: config.hangupWaitMs ?? 5_000,
    disconnectGraceMs: config.disconnectGraceMs ?? 30_000,
    amdContext: config.amdContext ?? 'dialctl-amd',
    amdTimeoutMs: config.amdTimeoutMs ?? 30_000,
  }
}

export interface DriverState {
  readonly settings: DriverSettings
  readonly client: AriClient
  readonly log: Logger
  /** the calls being followed (ringing or answered), by call id = channel id */
  readonly calls: Map<string, Tracked>
  /** channels we gave up on but could not hang up (ARI unreachable): hung up on reconnect */
  readonly abandoned: Set<string>
  closed: boolean
  /** orders "channel confirmed" against "channel list requested" for reconciliation */
  seq: number
}

/**
 * Resolves the call's originate once (later calls do nothing) and stops its timers. Without an
 * answered call the driver stops following it.
 */
export function settle(
  state: DriverState,
  tracked: Tracked,
  result: OriginateResult,
  call?: ActiveCall,
): void {
  const resolve = tracked.settle
  if (!resolve) return
  tracked.settle = undefined
  clearTimeout(tracked.ringTimer)
  clearTimeout(tracked.amdTimer)
  if (!call) {
    state.calls.delete(tracked.callId)
    tracked.off()
  }
  state.log.info('ARI originate settled', {
    callId: tracked.callId,
    outcome: result.outcome,
    hangupCause: result.hangupCause,
    error: result.error,
  })
  resolve(call ? { result, call } : { result })
}

/**
 * The callee answered (and AMD, if asked, gave its verdict): the channel's events go to an AriCall
 * from now on, and originate resolves with it. `channelState` is Asterisk's for the channel.
 */
export function answer(
  state: DriverState,
  tracked: Tracked,
  channelState: string | undefined,
  amd?: AmdResult,
): AriCall {
  const { client, log, calls } = state
  const call = new AriCall(tracked.callId, client, log, {
    hangupWaitMs: state.settings.hangupWaitMs,
    onEnded: (callId) => {
      const current = calls.get(callId)
      if (current === tracked) {
        calls.delete(callId)
        tracked.off()
      }
    },
  })
  tracked.stage = { phase: 'answered', call }
  // An originated channel enters Stasis once the far end answers; answering again is only
  // needed when it did not (e.g. some Local channel setups).
  if (channelState !== undefined && channelState !== 'Up') {
    client.answer(tracked.callId).catch((error: Error) => {
      log.warn('ARI answer failed', { callId: tracked.callId, error: error.message })
    })
  }
  settle(state, tracked, { outcome: 'answered', ...(amd ? { amd } : {}) }, call)
  return call
}
