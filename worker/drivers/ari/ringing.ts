import { detectionReturned, endedDuringDetection, noteAmdVariable, startDetection } from './amd.js'
import type { AriEvent, AriEventOf } from './events.js'
import { Q850, SOFT_HANGUP, resultForUnanswered } from './outcome.js'
import { answer, settle, type DriverState, type Tracked } from './tracked.js'

/**
 * A followed channel's events. Once answered they belong to its AriCall (call.ts); before that
 * they decide how originate resolves: StasisStart answers (or starts AMD), ChannelDestroyed ends
 * the call with the outcome its cause and Dial status imply (outcome.ts), and the ring timer
 * bounds the wait when Asterisk says nothing.
 */
export function onChannelEvent(state: DriverState, tracked: Tracked, event: AriEvent): void {
  if (tracked.stage.phase === 'answered') {
    tracked.stage.call.handle(event)
    return
  }
  switch (event.type) {
    case 'StasisStart':
      onStasisStart(state, tracked, event)
      return
    case 'ChannelVarset':
      noteAmdVariable(tracked, event)
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
    case 'ChannelDestroyed':
      onDestroyedBeforeAnswer(state, tracked, event)
      return
    default:
      return
  }
}

function onStasisStart(state: DriverState, tracked: Tracked, event: AriEventOf<'StasisStart'>): void {
  if (tracked.detecting && event.args[0] === 'amd') {
    detectionReturned(state, tracked, event)
    return
  }
  if (tracked.amd && !tracked.detecting) {
    startDetection(state, tracked)
    return
  }
  answer(state, tracked, event.channel.state)
}

function onDestroyedBeforeAnswer(
  state: DriverState,
  tracked: Tracked,
  event: AriEventOf<'ChannelDestroyed'>,
): void {
  if (tracked.detecting) {
    endedDuringDetection(state, tracked, event)
    return
  }
  if (tracked.shutdown) {
    // Asterisk stopping ends ringing channels with Dial NOANSWER and cause 0 (recorded):
    // the callee never rang out, so this is a retryable failure, not a no-answer.
    settle(state, tracked, {
      outcome: 'failed',
      reason: 'telephony-restart',
      error: 'Asterisk shut down while the call was ringing',
    })
    return
  }
  const ringTimedOut = Date.now() - tracked.startedAt >= tracked.ringMs
  settle(state, tracked, resultForUnanswered(event, { dialStatus: tracked.dialStatus, ringTimedOut }))
}

/**
 * Our own bound on ringing: the ring time plus ringGraceMs. Asterisk normally ends the channel
 * first; if not, hang it up (remembered for the next reconnect when ARI cannot be reached).
 */
export function startRingTimer(state: DriverState, tracked: Tracked): void {
  const { client } = state
  tracked.ringTimer = setTimeout(() => {
    if (tracked.stage.phase !== 'ringing' || !tracked.settle) return
    client
      .hangup(tracked.callId, { reasonCode: Q850.NO_ANSWER })
      .catch(() => state.abandoned.add(tracked.callId))
    if (!client.healthy()) {
      // Without events we cannot tell "nobody answered" from "Asterisk went away".
      settle(state, tracked, {
        outcome: 'failed',
        reason: 'telephony-restart',
        error:
          'lost the ARI connection while ringing; the channel is hung up on reconnect if it still exists',
      })
      return
    }
    settle(state, tracked, { outcome: 'no-answer', hangupCause: Q850.NO_ANSWER })
  }, tracked.ringMs + state.settings.ringGraceMs)
}
