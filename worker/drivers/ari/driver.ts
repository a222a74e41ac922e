import { createLogger, type Logger } from '../../../src/observability/logger.js'
import { maskPhone } from '../../../src/observability/mask.js'
import type {
  ActiveCall,
  AmdResult,
  CallOutcome,
  OriginateRequest,
  OriginateResult,
  TelephonyDriver,
} from '../../../src/telephony/driver.js'
import { AriCall } from './call.js'
import { AriClient, AriHttpError, type AriConnectionState } from './client.js'
import { AriDriverConfig } from './config.js'
import type { AriEvent, Channel } from './events.js'
import { Q850, SOFT_HANGUP, causeForUnanswered, outcomeForUnanswered } from './outcome.js'
import { bestEffort, errorMessage } from '../../../src/errors.js'

export interface ReconcileReport {
  at: Date
  /** every channel Asterisk has now (not only ours): a restarted worker can close its stale rows */
  liveChannelIds: string[]
  /** calls this driver was following whose channel was gone; each already resolved */
  ended: Array<{ callId: string; phase: 'ringing' | 'answered'; outcome?: CallOutcome }>
  /**
   * channels in this driver's Stasis app that no call of this process follows (a previous run of
   * this worker crashed mid-call): each was hung up; `state` is what Asterisk said before ("Up" =
   * the callee had answered)
   */
  orphans: OrphanChannel[]
}

export interface OrphanChannel {
  channelId: string
  /** Asterisk's channel state when found: Up, Ringing, Ring, Down, … */
  state: string
  /** false when the hang-up request failed (ARI unreachable): retried on the next reconnect */
  hungUp: boolean
}

export interface AriDriver extends TelephonyDriver {
  readonly client: AriClient
  /** connection state, for /health detail */
  state(): AriConnectionState
  /** resolves true once the events WebSocket is up */
  waitConnected(timeoutMs: number): Promise<boolean>
  /** called after every (re)connect, once ARI's channel list has been compared with ours */
  onReconcile(listener: (report: ReconcileReport) => void): () => void
  /** calls being followed (ringing or answered) */
  activeCallIds(): string[]
  /**
   * Called (and awaited) during every reconcile with the orphan channels found, after they were
   * hung up: the worker records their rows' outcomes here, before anything else closes them.
   */
  onOrphans(listener: (orphans: OrphanChannel[]) => Promise<void>): () => void
  /**
   * How reconcile recognises this worker's channels that are not (yet) in its Stasis app — a
   * ringing channel enters the app only when answered: given channel ids, resolves the ones that
   * are open calls of this worker (its call_attempts rows still dialing).
   */
  setChannelOwner(lookup: (channelIds: string[]) => Promise<Set<string>>): void
  /** resolves with the first reconcile's report (orphan listeners done), or undefined on timeout */
  firstReconcile(timeoutMs: number): Promise<ReconcileReport | undefined>
  /** why the connection cannot be made (credentials refused), if that is the reason */
  refusal(): string | undefined
}

/**
 * Whether ARI's channel model shows the channel inside Stasis application `app`: Asterisk reports
 * `dialplan.app_name` "Stasis" and `app_data` "<app>,<args>" (recorded from Asterisk 22).
 */
export function inStasisApp(channel: Channel, app: string): boolean {
  const dialplan = channel.dialplan
  if (!dialplan || dialplan.app_name !== 'Stasis') return false
  return (dialplan.app_data ?? '').split(',')[0] === app
}

interface Tracked {
  callId: string
  phone: string
  startedAt: number
  ringMs: number
  phase: 'ringing' | 'answered'
  dialStatus?: string
  /** Asterisk asked the channel to hang up because it is shutting down (soft hang-up SHUTDOWN) */
  shutdown?: boolean
  call?: AriCall
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
  settle?: (value: { result: OriginateResult; call?: ActiveCall }) => void
  off(): void
}

/** Appended to Asterisk's ring timeout before we hang up ourselves; Asterisk normally ends it first. */
const DEFAULT_RING_GRACE_MS = 2_000
const DEFAULT_RING_TIMEOUT_S = 30

/**
 * The production telephony driver: Asterisk through ARI. callId is the channel id, so every
 * event maps back to its call without a lookup table that could drift.
 */
export function createAriDriver(input: AriDriverConfig, deps: { logger?: Logger } = {}): AriDriver {
  const config = AriDriverConfig.parse(input)
  const log = deps.logger ?? createLogger('ari-driver')
  const client = new AriClient({
    url: config.url,
    username: config.username,
    password: config.password,
    app: config.app,
    reconnect: config.reconnect,
    heartbeatMs: config.heartbeatMs,
    requestTimeoutMs: config.requestTimeoutMs,
    logger: log,
  })
  const ringGraceMs = config.ringGraceMs ?? DEFAULT_RING_GRACE_MS
  const hangupWaitMs = config.hangupWaitMs ?? 5_000
  const disconnectGraceMs = config.disconnectGraceMs ?? 30_000
  const amdContext = config.amdContext ?? 'dialctl-amd'
  const amdTimeoutMs = config.amdTimeoutMs ?? 30_000
  let disconnectTimer: NodeJS.Timeout | undefined
  const calls = new Map<string, Tracked>()
  /** channels we gave up on but could not hang up (ARI unreachable): hung up on reconnect */
  const abandoned = new Set<string>()
  const reconcileListeners = new Set<(report: ReconcileReport) => void>()
  const orphanListeners = new Set<(orphans: OrphanChannel[]) => Promise<void>>()
  let ownerLookup: ((channelIds: string[]) => Promise<Set<string>>) | undefined
  let firstReport: ReconcileReport | undefined
  const firstReportWaiters = new Set<(report: ReconcileReport) => void>()
  let closed = false
  /** orders "channel confirmed" against "channel list requested" for reconciliation */
  let seq = 0

  const settle = (tracked: Tracked, result: OriginateResult, call?: ActiveCall): void => {
    const resolve = tracked.settle
    if (!resolve) return
    tracked.settle = undefined
    clearTimeout(tracked.ringTimer)
    clearTimeout(tracked.amdTimer)
    if (!call) {
      calls.delete(tracked.callId)
      tracked.off()
    }
    log.info('ARI originate settled', {
      callId: tracked.callId,
      outcome: result.outcome,
      hangupCause: result.hangupCause,
      error: result.error,
    })
    resolve(call ? { result, call } : { result })
  }

  const answer = (tracked: Tracked, channelState: string | undefined, amd?: AmdResult): AriCall => {
    tracked.phase = 'answered'
    const call = new AriCall(tracked.callId, client, log, {
      hangupWaitMs,
      onEnded: (callId) => {
        const current = calls.get(callId)
        if (current === tracked) {
          calls.delete(callId)
          tracked.off()
        }
      },
    })
    tracked.call = call
    // An originated channel enters Stasis once the far end answers; answering again is only
    // needed when it did not (e.g. some Local channel setups).
    if (channelState !== undefined && channelState !== 'Up') {
      client.answer(tracked.callId).catch((error: Error) => {
        log.warn('ARI answer failed', { callId: tracked.callId, error: error.message })
      })
    }
    settle(tracked, { outcome: 'answered', ...(amd ? { amd } : {}) }, call)
    return call
  }

  const onChannelEvent = (tracked: Tracked, event: AriEvent): void => {
    if (tracked.phase === 'answered') {
      tracked.call?.handle(event)
      return
    }
    switch (event.type) {
      case 'StasisStart':
        if (tracked.detecting && event.args[0] === 'amd') {
          // Back from the AMD dialplan: Stasis(app,amd,${AMDSTATUS},${AMDCAUSE}). The args are
          // authoritative; the ChannelVarset events seen meanwhile fill in what the args lack.
          const amd = amdResult(event.args[1] ?? tracked.amdStatus, event.args[2] ?? tracked.amdCause)
          answer(tracked, event.channel.state, amd)
          return
        }
        if (tracked.amd && !tracked.detecting) {
          detect(tracked)
          return
        }
        answer(tracked, event.channel.state)
        return
      case 'ChannelVarset':
        if (event.variable === 'AMDSTATUS') tracked.amdStatus = event.value
        if (event.variable === 'AMDCAUSE') tracked.amdCause = event.value
        return
      case 'StasisEnd':
        // leaving for the AMD dialplan (continue) is expected; a hang-up brings ChannelDestroyed
        return
      case 'Dial':
        if (event.dialstatus) tracked.dialStatus = event.dialstatus
        return
      case 'ChannelHangupRequest':
        if (event.soft && event.cause === SOFT_HANGUP.SHUTDOWN) tracked.shutdown = true
        return
      case 'ChannelDestroyed': {
        if (tracked.detecting) {
          if (tracked.amdStatus === undefined)
            // AMD() sets AMDSTATUS even when the line drops mid-analysis; none at all suggests the
            // channel never ran it (a missing context ends the channel at once).
            log.warn('ARI: call ended in the AMD dialplan before AMD() gave a verdict', {
              callId: tracked.callId,
              amdContext,
              fix: `check that context ${amdContext} exists (asterisk -rx 'dialplan show ${amdContext}')`,
            })
          // Answered, then gone while AMD listened (AMDSTATUS HANGUP): someone or something
          // picked up, so the call counts as answered; the IVR finds it hung up at once.
          const call = answer(tracked, 'Up', amdResult(tracked.amdStatus ?? 'HANGUP', tracked.amdCause))
          call.markEnded(event.cause)
          return
        }
        if (tracked.shutdown) {
          // Asterisk stopping ends ringing channels with Dial NOANSWER and cause 0 (recorded):
          // the callee never rang out, so this is a retryable failure, not a no-answer.
          settle(tracked, {
            outcome: 'failed',
            reason: 'telephony-restart',
            error: 'Asterisk shut down while the call was ringing',
          })
          return
        }
        const ringTimedOut = Date.now() - tracked.startedAt >= tracked.ringMs
        const outcome = outcomeForUnanswered(event.cause, { dialStatus: tracked.dialStatus, ringTimedOut })
        const hangupCause = causeForUnanswered(event.cause, tracked.dialStatus)
        settle(tracked, {
          outcome,
          ...(hangupCause !== undefined ? { hangupCause } : {}),
          ...(outcome === 'failed'
            ? { error: `channel ended before answer: ${event.cause_txt ?? 'cause ' + event.cause}` }
            : {}),
        })
        return
      }
      default:
        return
    }
  }

  /**
   * The call was answered in Stasis and the campaign wants AMD: subscribe to the channel (its events
   * keep coming outside Stasis), then continue it into the AMD context, which runs AMD() on the
   * answered line and comes back with Stasis(${DIALCTL_ARI_APP},amd,${AMDSTATUS},${AMDCAUSE}).
   * Bounded by amdTimeoutMs: a dialplan that never returns gives the call up rather than hang.
   */
  const detect = (tracked: Tracked): void => {
    tracked.detecting = true
    clearTimeout(tracked.ringTimer)
    const giveUp = (error: string) => {
      if (!tracked.settle) return
      void bestEffort(
        client.hangup(tracked.callId, { reasonCode: Q850.NORMAL_CLEARING }),
        'the channel may be gone already',
      )
      settle(tracked, { outcome: 'failed', error })
    }
    tracked.amdTimer = setTimeout(
      () =>
        giveUp(
          `AMD gave no verdict within ${Math.round(amdTimeoutMs / 1000)} s: check that context ${amdContext} exists and ends in Stasis(\${DIALCTL_ARI_APP},amd,\${AMDSTATUS},\${AMDCAUSE}) (docs/asterisk.md)`,
        ),
      amdTimeoutMs,
    )
    void (async () => {
      await bestEffort(
        client.subscribeChannel(tracked.callId),
        'without it a hang-up during detection is seen only at the AMD timeout',
      )
      try {
        await client.continueInDialplan(tracked.callId, { context: amdContext, extension: 's', priority: 1 })
      } catch (error) {
        giveUp(`cannot send the call to AMD (context ${amdContext}): ${errorMessage(error)}`)
      }
    })()
  }

  const redact = (text: string, phone: string): string => {
    const masked = maskPhone(phone)
    const digits = phone.replace(/^\+/, '')
    return text.split(phone).join(masked).split(digits).join(masked.replace(/^\+/, ''))
  }

  const endpointFor = (phone: string): string =>
    config.endpointTemplate.replaceAll('{number}', phone).replaceAll('{digits}', phone.replace(/^\+/, ''))

  async function originate(
    request: OriginateRequest,
  ): Promise<{ result: OriginateResult; call?: ActiveCall }> {
    const { callId } = request
    if (closed)
      return { result: { outcome: 'failed', error: 'the ARI driver is closed (worker shutting down)' } }
    if (!client.healthy()) {
      return {
        result: {
          outcome: 'failed',
          error: `ARI is not connected (${client.state}); the worker reports unhealthy until it reconnects to ${config.url}`,
        },
      }
    }
    if (!/^\+?\d{3,20}$/.test(request.phoneNumber)) {
      // Anything else could change the meaning of the dial string (e.g. "&" dials a second endpoint).
      return { result: { outcome: 'failed', error: 'phoneNumber must be digits with an optional leading +' } }
    }
    if (calls.has(callId)) {
      return { result: { outcome: 'failed', error: `call ${callId} is already in progress on this worker` } }
    }
    if (config.maxChannels !== undefined && calls.size >= config.maxChannels) {
      return {
        result: {
          outcome: 'failed',
          error: `worker at its ARI channel cap (${config.maxChannels}); raise ARI_MAX_CHANNELS or lower the pace`,
        },
      }
    }
    const ringSeconds =
      Number.isFinite(request.ringTimeoutSeconds) && request.ringTimeoutSeconds > 0
        ? Math.ceil(request.ringTimeoutSeconds)
        : (config.ringTimeoutSeconds ?? DEFAULT_RING_TIMEOUT_S)

    const done = new Promise<{ result: OriginateResult; call?: ActiveCall }>((resolve) => {
      const tracked: Tracked = {
        callId,
        phone: request.phoneNumber,
        startedAt: Date.now(),
        ringMs: ringSeconds * 1000,
        phase: 'ringing',
        ...(request.amd ? { amd: request.amd } : {}),
        settle: resolve,
        off: () => {},
      }
      // Listen before the POST: on a fast failure ChannelDestroyed can beat the REST answer.
      tracked.off = client.onChannel(callId, (event) => onChannelEvent(tracked, event))
      tracked.ringTimer = setTimeout(() => {
        if (tracked.phase !== 'ringing' || !tracked.settle) return
        client.hangup(callId, { reasonCode: Q850.NO_ANSWER }).catch(() => abandoned.add(callId))
        if (!client.healthy()) {
          // Without events we cannot tell "nobody answered" from "Asterisk went away".
          settle(tracked, {
            outcome: 'failed',
            reason: 'telephony-restart',
            error:
              'lost the ARI connection while ringing; the channel is hung up on reconnect if it still exists',
          })
          return
        }
        settle(tracked, { outcome: 'no-answer', hangupCause: Q850.NO_ANSWER })
      }, tracked.ringMs + ringGraceMs)
      calls.set(callId, tracked)
    })

    const tracked = calls.get(callId)!
    log.info('ARI originate', { callId, phone: maskPhone(request.phoneNumber), ringSeconds })
    try {
      await client.originate(callId, {
        endpoint: endpointFor(request.phoneNumber),
        app: config.app,
        appArgs: 'dialctl',
        callerId: request.callerId ?? config.callerId,
        timeout: ringSeconds,
        variables: {
          ...request.variables,
          DIALCTL_CALL_ID: callId,
          // read by the AMD dialplan: where to return, and whether to wait for the beep
          ...(request.amd ? { DIALCTL_ARI_APP: config.app, DIALCTL_AMD: request.amd } : {}),
        },
      })
      tracked.confirmedSeq = ++seq
    } catch (error) {
      const detail =
        error instanceof AriHttpError && error.status === 409
          ? `a channel with id ${callId} already exists on Asterisk (duplicate dial?)`
          : errorMessage(error)
      settle(tracked, {
        outcome: 'failed',
        error: redact(`originate refused: ${detail}`, request.phoneNumber),
      })
    }
    return done
  }

  async function reconcile(): Promise<void> {
    // Only calls whose channel Asterisk had confirmed before we asked for the list can be judged
    // by it; a call originated meanwhile would look "gone" when it is merely newer than the list.
    const listSeq = ++seq
    let live: Map<string, Channel>
    try {
      live = new Map((await client.listChannels()).map((c) => [c.id, c]))
    } catch (error) {
      log.warn('ARI reconcile: cannot list channels', { error: errorMessage(error) })
      return
    }
    const ended: ReconcileReport['ended'] = []
    for (const tracked of [...calls.values()]) {
      if (tracked.confirmedSeq === undefined || tracked.confirmedSeq > listSeq) continue
      const channel = live.get(tracked.callId)
      if (tracked.phase === 'ringing') {
        if (!channel) {
          settle(tracked, {
            outcome: 'failed',
            reason: 'telephony-restart',
            error: 'channel gone after the ARI connection came back (Asterisk restarted?)',
          })
          ended.push({ callId: tracked.callId, phase: 'ringing', outcome: 'failed' })
        } else if (channel.state === 'Up' && !tracked.detecting) {
          // StasisStart was sent while we were disconnected.
          answer(tracked, channel.state)
        }
        continue
      }
      const call = tracked.call
      if (!call) continue
      if (!channel) {
        call.markEnded(undefined, 'telephony-restart')
        ended.push({ callId: tracked.callId, phase: 'answered' })
        continue
      }
      for (const playbackId of call.pendingPlaybackIds()) {
        const playback = await client.getPlayback(playbackId).catch(() => null)
        if (playback === undefined) call.resolveLostPlayback(playbackId)
      }
    }
    // Channels in our app that no call of this process follows: a previous run of this worker
    // died mid-call (same WORKER_ID → same app). Left alone they stay up, silent and billing.
    const orphans: OrphanChannel[] = []
    const untracked = [...live.values()].filter((c) => !calls.has(c.id) && !abandoned.has(c.id))
    let owned = new Set<string>()
    if (ownerLookup && untracked.length) {
      owned = await ownerLookup(untracked.map((c) => c.id)).catch((error: unknown) => {
        log.warn('ARI reconcile: cannot look up which channels are ours', { error: errorMessage(error) })
        return new Set<string>()
      })
    }
    for (const channel of untracked) {
      if (!owned.has(channel.id) && !inStasisApp(channel, config.app)) continue
      let hungUp = true
      try {
        await client.hangup(channel.id, { reasonCode: Q850.NORMAL_CLEARING })
      } catch (error) {
        hungUp = false
        log.warn('ARI reconcile: cannot hang up an orphan channel; retried on the next reconnect', {
          channelId: channel.id,
          error: errorMessage(error),
        })
      }
      orphans.push({ channelId: channel.id, state: channel.state ?? 'Unknown', hungUp })
    }
    for (const callId of [...abandoned]) {
      abandoned.delete(callId)
      if (live.has(callId) && !calls.has(callId)) {
        await client.hangup(callId, { reasonCode: Q850.NORMAL_CLEARING }).catch(() => abandoned.add(callId))
      }
    }
    if (orphans.length) {
      log.warn('ARI reconcile: hung up channels left in the app by a previous run', {
        count: orphans.length,
        answered: orphans.filter((o) => o.state === 'Up').length,
      })
      for (const listener of [...orphanListeners]) {
        try {
          await listener(orphans)
        } catch (error) {
          log.error('orphan listener failed', { error: errorMessage(error) })
        }
      }
    }
    if (ended.length) log.warn('ARI reconcile ended calls whose channel is gone', { count: ended.length })
    const report: ReconcileReport = { at: new Date(), liveChannelIds: [...live.keys()], ended, orphans }
    for (const listener of [...reconcileListeners]) {
      try {
        listener(report)
      } catch (error) {
        log.error('reconcile listener threw', { error: errorMessage(error) })
      }
    }
    if (!firstReport) {
      firstReport = report
      for (const resolve of [...firstReportWaiters]) resolve(report)
      firstReportWaiters.clear()
    }
  }

  /**
   * ARI has been gone for disconnectGraceMs: without events a play() or a ringing call would wait
   * forever, so give every call up now. Channels that still exist are hung up on reconnect.
   */
  const giveUpAll = (): void => {
    const ended: ReconcileReport['ended'] = []
    for (const tracked of [...calls.values()]) {
      abandoned.add(tracked.callId)
      if (tracked.phase === 'ringing') {
        settle(tracked, {
          outcome: 'failed',
          reason: 'telephony-restart',
          error: `ARI unreachable for ${Math.round(disconnectGraceMs / 1000)} s while ringing; call given up`,
        })
        ended.push({ callId: tracked.callId, phase: 'ringing', outcome: 'failed' })
      } else if (tracked.call) {
        tracked.call.markEnded(undefined, 'telephony-restart')
        ended.push({ callId: tracked.callId, phase: 'answered' })
      }
    }
    if (ended.length) log.error('ARI unreachable: calls in progress given up', { count: ended.length })
  }

  client.onStateChange((state) => {
    if (state === 'connected') {
      clearTimeout(disconnectTimer)
      disconnectTimer = undefined
      void reconcile()
    } else if (state === 'closed') {
      clearTimeout(disconnectTimer)
    } else if (!disconnectTimer && client.state !== 'idle') {
      disconnectTimer = setTimeout(() => {
        disconnectTimer = undefined
        if (!client.healthy() && !closed) giveUpAll()
      }, disconnectGraceMs)
    }
  })
  client.onEvent((event) => {
    // A channel in our app that we are not following (an abandoned originate answered late, or a
    // dialplan sending calls to Stasis(app)): hang it up rather than leave it in silence.
    if (event.type === 'StasisStart' && !calls.has(event.channel.id)) {
      log.warn('ARI: unknown channel entered the app; hanging it up', { channelId: event.channel.id })
      void bestEffort(
        client.hangup(event.channel.id, { reasonCode: Q850.NORMAL_CLEARING }),
        'not our call: Asterisk ends it at its own timeout if the hang-up fails',
      )
    }
  })
  client.start()

  return {
    name: 'ari',
    client,
    originate,
    healthy: () => !closed && client.healthy(),
    state: () => client.state,
    waitConnected: (timeoutMs) => client.waitConnected(timeoutMs),
    onReconcile(listener) {
      reconcileListeners.add(listener)
      return () => reconcileListeners.delete(listener)
    },
    activeCallIds: () => [...calls.keys()],
    setChannelOwner(lookup) {
      ownerLookup = lookup
    },
    onOrphans(listener) {
      orphanListeners.add(listener)
      return () => orphanListeners.delete(listener)
    },
    firstReconcile(timeoutMs) {
      if (firstReport) return Promise.resolve(firstReport)
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          firstReportWaiters.delete(done)
          resolve(undefined)
        }, timeoutMs)
        const done = (report: ReconcileReport) => {
          clearTimeout(timer)
          resolve(report)
        }
        firstReportWaiters.add(done)
      })
    },
    refusal: () => client.refusal,
    async close() {
      if (closed) return
      closed = true
      const pending = [...calls.values()]
      await Promise.all(
        pending.map(async (tracked) => {
          if (tracked.call) {
            await tracked.call.hangup()
          } else {
            await bestEffort(
              client.hangup(tracked.callId, { reasonCode: Q850.NORMAL_CLEARING }),
              'the channel may already be gone; shutting down goes on',
            )
            settle(tracked, { outcome: 'failed', error: 'the ARI driver closed while the call was ringing' })
          }
        }),
      )
      await client.close()
    },
  }
}

const AMD_STATUSES: ReadonlySet<string> = new Set(['HUMAN', 'MACHINE', 'NOTSURE', 'HANGUP'])

/** AMDSTATUS/AMDCAUSE as AMD() sets them; anything unexpected is NOTSURE (treated as a person). */
export function amdResult(status: string | undefined, cause: string | undefined): AmdResult {
  const s = (status ?? '').toUpperCase()
  return {
    status: AMD_STATUSES.has(s) ? (s as AmdResult['status']) : 'NOTSURE',
    ...(cause ? { cause } : {}),
  }
}
