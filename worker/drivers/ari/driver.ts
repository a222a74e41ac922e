import { bestEffort } from '../../../src/errors.js'
import { createLogger, type Logger } from '../../../src/observability/logger.js'
import type { TelephonyDriver } from '../../../src/telephony/driver.js'
import { AriClient, type AriConnectionState } from './client.js'
import type { AriDriverConfig } from './config.js'
import { hangUpStrangers, watchConnection } from './connection.js'
import { originate } from './originate.js'
import { Q850 } from './outcome.js'
import { Reconciler, type ChannelOwnerLookup, type OrphanChannel, type ReconcileReport } from './reconcile.js'
import { resolveSettings, settle, type DriverSettings, type DriverState } from './tracked.js'

/**
 * The production telephony driver: Asterisk through ARI. callId is the channel id, so every event
 * maps back to its call without a lookup table that could drift. The phases live beside this
 * composition root: originate.ts (refuse, follow, POST) → ringing.ts (events before answer, ring
 * timer; outcome.ts maps the hang-up cause) → amd.ts (answering-machine detection) → call.ts (the
 * answered call: playback, DTMF, hang-up); reconcile.ts and connection.ts (after a reconnect, or
 * when ARI stays away); tracked.ts (the state they share).
 */

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
  setChannelOwner(lookup: ChannelOwnerLookup): void
  /** resolves with the first reconcile's report (orphan listeners done), or undefined on timeout */
  firstReconcile(timeoutMs: number): Promise<ReconcileReport | undefined>
  /** why the connection cannot be made (credentials refused), if that is the reason */
  refusal(): string | undefined
}

/**
 * Parses the config (throws naming the field: zod), starts connecting the events WebSocket
 * (reconnecting until close()), and returns the driver; originate refuses until connected.
 */
export function createAriDriver(input: AriDriverConfig, deps: { logger?: Logger } = {}): AriDriver {
  const settings = resolveSettings(input)
  const log = deps.logger ?? createLogger('ari-driver')
  const state: DriverState = {
    settings,
    client: clientFor(settings, log),
    log,
    calls: new Map(),
    abandoned: new Set(),
    closed: false,
    seq: 0,
  }
  const { client } = state
  const reconciler = new Reconciler(state)
  watchConnection(state, reconciler)
  hangUpStrangers(state)
  client.start()
  return {
    name: 'ari',
    client,
    originate: (request) => originate(state, request),
    healthy: () => !state.closed && client.healthy(),
    state: () => client.state,
    waitConnected: (timeoutMs) => client.waitConnected(timeoutMs),
    onReconcile: (listener) => reconciler.onReconcile(listener),
    activeCallIds: () => [...state.calls.keys()],
    setChannelOwner: (lookup) => reconciler.setChannelOwner(lookup),
    onOrphans: (listener) => reconciler.onOrphans(listener),
    firstReconcile: (timeoutMs) => reconciler.first(timeoutMs),
    refusal: () => client.refusal,
    close: () => closeDriver(state),
  }
}

function clientFor(settings: DriverSettings, logger: Logger): AriClient {
  return new AriClient({
    url: settings.url,
    username: settings.username,
    password: settings.password,
    app: settings.app,
    reconnect: settings.reconnect,
    heartbeatMs: settings.heartbeatMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    logger,
  })
}

/** Hangs up every call in progress (answered: through its AriCall; ringing: failed), then closes the client. */
async function closeDriver(state: DriverState): Promise<void> {
  if (state.closed) return
  state.closed = true
  const pending = [...state.calls.values()]
  await Promise.all(
    pending.map(async (tracked) => {
      if (tracked.stage.phase === 'answered') {
        await tracked.stage.call.hangup()
      } else {
        await bestEffort(
          state.client.hangup(tracked.callId, { reasonCode: Q850.NORMAL_CLEARING }),
          'the channel may already be gone; shutting down goes on',
        )
        settle(state, tracked, {
          outcome: 'failed',
          error: 'the ARI driver closed while the call was ringing',
        })
      }
    }),
  )
  await state.client.close()
}
