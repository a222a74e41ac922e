import { bestEffort } from '../../../src/errors.js'
import { Q850 } from './outcome.js'
import type { EndedCall, Reconciler } from './reconcile.js'
import { settle, type DriverState } from './tracked.js'

/**
 * What the driver does as the events WebSocket comes and goes: reconcile on every (re)connect,
 * give every call up when ARI stays away longer than disconnectGraceMs.
 */
export function watchConnection(state: DriverState, reconciler: Reconciler): void {
  const { client } = state
  let disconnectTimer: NodeJS.Timeout | undefined
  client.onStateChange((connection) => {
    if (connection === 'connected') {
      clearTimeout(disconnectTimer)
      disconnectTimer = undefined
      void reconciler.run()
    } else if (connection === 'closed') {
      clearTimeout(disconnectTimer)
    } else if (!disconnectTimer && client.state !== 'idle') {
      disconnectTimer = setTimeout(() => {
        disconnectTimer = undefined
        if (!client.healthy() && !state.closed) giveUpAll(state)
      }, state.settings.disconnectGraceMs)
    }
  })
}

/**
 * ARI has been gone for disconnectGraceMs: without events a play() or a ringing call would wait
 * forever, so give every call up now. Channels that still exist are hung up on reconnect.
 */
function giveUpAll(state: DriverState): void {
  const ended: EndedCall[] = []
  for (const tracked of [...state.calls.values()]) {
    state.abandoned.add(tracked.callId)
    if (tracked.stage.phase === 'ringing') {
      settle(state, tracked, {
        outcome: 'failed',
        reason: 'telephony-restart',
        error: `ARI unreachable for ${Math.round(state.settings.disconnectGraceMs / 1000)} s while ringing; call given up`,
      })
      ended.push({ callId: tracked.callId, phase: 'ringing', outcome: 'failed' })
    } else {
      tracked.stage.call.markEnded(undefined, 'telephony-restart')
      ended.push({ callId: tracked.callId, phase: 'answered' })
    }
  }
  if (ended.length) state.log.error('ARI unreachable: calls in progress given up', { count: ended.length })
}

/**
 * A channel in our app that we are not following (an abandoned originate answered late, or a
 * dialplan sending calls to Stasis(app)): hang it up rather than leave it in silence.
 */
export function hangUpStrangers(state: DriverState): void {
  const { client, log, calls } = state
  client.onEvent((event) => {
    if (event.type !== 'StasisStart' || calls.has(event.channel.id)) return
    log.warn('ARI: unknown channel entered the app; hanging it up', { channelId: event.channel.id })
    void bestEffort(
      client.hangup(event.channel.id, { reasonCode: Q850.NORMAL_CLEARING }),
      'not our call: Asterisk ends it at its own timeout if the hang-up fails',
    )
  })
}
