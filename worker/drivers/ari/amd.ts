import { bestEffort, errorMessage } from '../../../src/errors.js'
import type { AmdResult } from '../../../src/telephony/driver.js'
import type { AriEventOf } from './events.js'
import { Q850 } from './outcome.js'
import { answer, settle, type DriverState, type Tracked } from './tracked.js'

/**
 * Answering-machine detection on an answered call: the channel leaves Stasis for the AMD dialplan
 * context, which runs AMD() and comes back with Stasis(${DIALCTL_ARI_APP},amd,${AMDSTATUS},${AMDCAUSE})
 * (docs/asterisk.md, "Answering-machine detection"). Until then the call stays in the ringing
 * stage: originate resolves only with the verdict.
 */

const AMD_STATUSES: ReadonlySet<string> = new Set(['HUMAN', 'MACHINE', 'NOTSURE', 'HANGUP'])

/** AMDSTATUS/AMDCAUSE as AMD() sets them; anything unexpected is NOTSURE (treated as a person). */
export function amdResult(status: string | undefined, cause: string | undefined): AmdResult {
  const s = (status ?? '').toUpperCase()
  return {
    status: AMD_STATUSES.has(s) ? (s as AmdResult['status']) : 'NOTSURE',
    ...(cause ? { cause } : {}),
  }
}

/**
 * The call was answered in Stasis and the campaign wants AMD: subscribe to the channel (its events
 * keep coming outside Stasis), then continue it into the AMD context. Bounded by amdTimeoutMs: a
 * dialplan that never returns gives the call up rather than hang.
 */
export function startDetection(state: DriverState, tracked: Tracked): void {
  const { client, settings } = state
  const { amdContext, amdTimeoutMs } = settings
  tracked.detecting = true
  clearTimeout(tracked.ringTimer)
  tracked.amdTimer = setTimeout(
    () =>
      giveUpDetection(
        state,
        tracked,
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
      giveUpDetection(
        state,
        tracked,
        `cannot send the call to AMD (context ${amdContext}): ${errorMessage(error)}`,
      )
    }
  })()
}

/** Detection cannot finish: hang the channel up and fail the call (once; a settled call is left alone). */
function giveUpDetection(state: DriverState, tracked: Tracked, error: string): void {
  if (!tracked.settle) return
  void bestEffort(
    state.client.hangup(tracked.callId, { reasonCode: Q850.NORMAL_CLEARING }),
    'the channel may be gone already',
  )
  settle(state, tracked, { outcome: 'failed', error })
}

/**
 * Back from the AMD dialplan: Stasis(app,amd,${AMDSTATUS},${AMDCAUSE}). The args are authoritative;
 * the ChannelVarset events seen meanwhile fill in what the args lack.
 */
export function detectionReturned(
  state: DriverState,
  tracked: Tracked,
  event: AriEventOf<'StasisStart'>,
): void {
  const amd = amdResult(event.args[1] ?? tracked.amdStatus, event.args[2] ?? tracked.amdCause)
  answer(state, tracked, event.channel.state, amd)
}

/** AMD() sets AMDSTATUS / AMDCAUSE on the channel while it runs: kept in case the args lack them. */
export function noteAmdVariable(tracked: Tracked, event: AriEventOf<'ChannelVarset'>): void {
  if (event.variable === 'AMDSTATUS') tracked.amdStatus = event.value
  if (event.variable === 'AMDCAUSE') tracked.amdCause = event.value
}

/**
 * The channel ended in the AMD dialplan. Answered, then gone while AMD listened (AMDSTATUS HANGUP):
 * someone or something picked up, so the call counts as answered; the IVR finds it hung up at once.
 */
export function endedDuringDetection(
  state: DriverState,
  tracked: Tracked,
  event: AriEventOf<'ChannelDestroyed'>,
): void {
  const { amdContext } = state.settings
  if (tracked.amdStatus === undefined)
    // AMD() sets AMDSTATUS even when the line drops mid-analysis; none at all suggests the
    // channel never ran it (a missing context ends the channel at once).
    state.log.warn('ARI: call ended in the AMD dialplan before AMD() gave a verdict', {
      callId: tracked.callId,
      amdContext,
      fix: `check that context ${amdContext} exists (asterisk -rx 'dialplan show ${amdContext}')`,
    })
  const call = answer(state, tracked, 'Up', amdResult(tracked.amdStatus ?? 'HANGUP', tracked.amdCause))
  call.markEnded(event.cause)
}
