import { errorMessage } from '../../../src/errors.js'
import { maskPhone } from '../../../src/observability/mask.js'
import type { OriginateRequest } from '../../../src/telephony/driver.js'
import { AriHttpError } from './rest.js'
import { onChannelEvent, startRingTimer } from './ringing.js'
import { settle, type DriverSettings, type DriverState, type Settled, type Tracked } from './tracked.js'

const DEFAULT_RING_TIMEOUT_S = 30

/**
 * Places a call: refuses what it must (closed, ARI down, a number that is not digits, a duplicate
 * id, the channel cap), starts following the channel, then POSTs the originate with the call id
 * as channel id. Resolves when the call is answered (with the call) or is over (with the outcome);
 * never rejects.
 */
export async function originate(state: DriverState, request: OriginateRequest): Promise<Settled> {
  const refused = refusal(state, request)
  if (refused !== undefined) return { result: { outcome: 'failed', error: refused } }
  const { callId } = request
  const ringSeconds = ringSecondsFor(state.settings, request)
  const tracked: Tracked = {
    callId,
    startedAt: Date.now(),
    ringMs: ringSeconds * 1000,
    stage: { phase: 'ringing' },
    ...(request.amd ? { amd: request.amd } : {}),
    off: () => {},
  }
  const done = new Promise<Settled>((resolve) => {
    tracked.settle = resolve
  })
  // Listen before the POST: on a fast failure ChannelDestroyed can beat the REST answer.
  tracked.off = state.client.onChannel(callId, (event) => onChannelEvent(state, tracked, event))
  startRingTimer(state, tracked)
  state.calls.set(callId, tracked)
  state.log.info('ARI originate', { callId, phone: maskPhone(request.phoneNumber), ringSeconds })
  await post(state, tracked, request, ringSeconds)
  return done
}

/** Why this request cannot be dialled now, or undefined when it can. */
function refusal(state: DriverState, request: OriginateRequest): string | undefined {
  const { client, settings, calls } = state
  if (state.closed) return 'the ARI driver is closed (worker shutting down)'
  if (!client.healthy())
    return `ARI is not connected (${client.state}); the worker reports unhealthy until it reconnects to ${settings.url}`
  // Anything else could change the meaning of the dial string (e.g. "&" dials a second endpoint).
  if (!/^\+?\d{3,20}$/.test(request.phoneNumber))
    return 'phoneNumber must be digits with an optional leading +'
  if (calls.has(request.callId)) return `call ${request.callId} is already in progress on this worker`
  if (settings.maxChannels !== undefined && calls.size >= settings.maxChannels)
    return `worker at its ARI channel cap (${settings.maxChannels}); raise ARI_MAX_CHANNELS or lower the pace`
  return undefined
}

/** The request's ring timeout in whole seconds, else the configured one, else 30. */
function ringSecondsFor(settings: DriverSettings, request: OriginateRequest): number {
  return Number.isFinite(request.ringTimeoutSeconds) && request.ringTimeoutSeconds > 0
    ? Math.ceil(request.ringTimeoutSeconds)
    : (settings.ringTimeoutSeconds ?? DEFAULT_RING_TIMEOUT_S)
}

/** POST /channels/{callId}; a refusal settles the call failed (the number masked in the error). */
async function post(
  state: DriverState,
  tracked: Tracked,
  request: OriginateRequest,
  ringSeconds: number,
): Promise<void> {
  const { settings } = state
  const { callId } = request
  try {
    await state.client.originate(callId, {
      endpoint: endpointFor(settings.endpointTemplate, request.phoneNumber),
      app: settings.app,
      appArgs: 'dialctl',
      callerId: request.callerId ?? settings.callerId,
      timeout: ringSeconds,
      variables: {
        ...request.variables,
        DIALCTL_CALL_ID: callId,
        // read by the AMD dialplan: where to return, and whether to wait for the beep
        ...(request.amd ? { DIALCTL_ARI_APP: settings.app, DIALCTL_AMD: request.amd } : {}),
      },
    })
    tracked.confirmedSeq = ++state.seq
  } catch (error) {
    const detail =
      error instanceof AriHttpError && error.status === 409
        ? `a channel with id ${callId} already exists on Asterisk (duplicate dial?)`
        : errorMessage(error)
    settle(state, tracked, {
      outcome: 'failed',
      error: redact(`originate refused: ${detail}`, request.phoneNumber),
    })
  }
}

/** The dial string: {number} = E.164 with "+", {digits} = without it. */
function endpointFor(template: string, phone: string): string {
  return template.replaceAll('{number}', phone).replaceAll('{digits}', phone.replace(/^\+/, ''))
}

/** `text` with the phone number masked, with or without its "+" (Asterisk echoes the dial string). */
function redact(text: string, phone: string): string {
  const masked = maskPhone(phone)
  const digits = phone.replace(/^\+/, '')
  return text.split(phone).join(masked).split(digits).join(masked.replace(/^\+/, ''))
}
