import type { IncomingMessage, ServerResponse } from 'node:http'
import { refusalReason, type ClaimResult } from '../src/calls/gate.js'
import { adoptOrphanCall, claimCall } from '../src/calls/recorder.js'
import { runCall, type RunCallOptions } from '../src/calls/run-call.js'
import { describeZodError } from '../src/contracts/errors.js'
import { DRAINING } from '../src/dialer/worker-client.js'
import { parseDialCommand } from '../src/contracts/dial-command.js'
import type { DialCommand } from '../src/contracts/messages.js'
import type { Db } from '../src/db/pool.js'
import type { Logger } from '../src/observability/logger.js'
import { maskPhone, maskPhonesIn } from '../src/observability/mask.js'
import type { TrunkGate } from '../src/pacing/slot-wait.js'
import { WORKER_MAX_BODY_BYTES } from '../src/tasks/limits.js'
import type { TelephonyDriver } from '../src/telephony/driver.js'
import { guardCampaignMedia, type MediaGuardPolicy } from '../src/telephony/media-health.js'
import { bearerMatches } from './auth.js'
import type { WorkerCalls } from './calls.js'
import { HttpError, readJson, send } from './http.js'
import type { WorkerStats } from './stats.js'
import type { TraceContext } from '../src/tracing/context.js'
import type { Tracer } from '../src/tracing/tracer.js'
import { openClaimSpan } from '../src/tracing/worker-spans.js'
import { traceCall } from '../src/calls/trace.js'

/** What POST /dial's phases share: the worker's dependencies and its mutable call state. */
export interface DialContext {
  db: Db
  driver: TelephonyDriver
  token: string
  workerId: string
  logger: Logger
  stats: WorkerStats
  calls: WorkerCalls
  claims: UncertainClaims
  trunk: TrunkGate
  now: () => Date
  maxActiveCalls: number
  /** Retry-After on 429 and on 503, seconds, as header values */
  retryAfter: string
  unavailableRetryAfter: string
  call?: RunCallOptions
  mediaGuard?: MediaGuardPolicy | false
  /** spans of each call (issue #19): NO_TRACER when off */
  tracer: Tracer
}

/** What the claim phase decided: the gate's answer, or PostgreSQL could not be asked. */
type Claim =
  | { kind: 'claimed'; callId: string; attempt: number; adopted?: boolean }
  | Exclude<ClaimResult, { kind: 'claimed' }>
  | { kind: 'unavailable'; error: string }

const MAX_UNCERTAIN = 10_000

/**
 * Call ids whose claim failed here: its INSERT may have committed all the same (reply lost),
 * leaving a 'dialing' row no call runs for. When the task comes back, that row is ours to adopt.
 * Bounded: past MAX_UNCERTAIN the oldest is forgotten.
 */
export class UncertainClaims {
  private readonly ids = new Set<string>()

  add(callId: string): void {
    if (this.ids.size >= MAX_UNCERTAIN) {
      const oldest = this.ids.values().next()
      if (!oldest.done) this.ids.delete(oldest.value)
    }
    this.ids.add(callId)
  }

  /** Forgets `callId`; true when it was uncertain. */
  take(callId: string): boolean {
    return this.ids.delete(callId)
  }
}

const errorText = (error: unknown) => maskPhonesIn(error instanceof Error ? error.message : String(error))

/**
 * POST /dial in phases: who may dial and what (readCommand), local capacity (admitLocally), the
 * limiter's slot (trunk gate), the dial gate (claim), then the answer: no call (answerNoCall) or
 * the call run in the background (placeCall).
 */
export async function dial(ctx: DialContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const cmd = await readCommand(ctx, req, res)
  if (!cmd || !admitLocally(ctx, cmd, res)) return
  // Originate at the limiter's slot, not when the POST happened to arrive (src/pacing/slot-wait.ts);
  // the wait comes before the claim so the dial gate decides at the moment of the dial.
  const waitStart = Date.now()
  await ctx.trunk.pass(cmd.notBefore, cmd.cpsLimit)
  // the trace the POST's x-amzn-trace-id names; the slot wait just passed is an attribute
  const span = ctx.tracer.enabled
    ? openClaimSpan(ctx.tracer, req.headers, cmd, Date.now() - waitStart)
    : undefined
  const result = await claim(ctx, cmd)
  span?.end({ status: result.kind, ...(result.kind === 'refused' ? { reason: result.reason } : {}) })
  if (result.kind !== 'claimed') return answerNoCall(ctx, cmd, result, res)
  placeCall(ctx, cmd, result.attempt, res, span?.ctx)
}

/** Phase 1: who may dial, and is the body a DialCommand. */
async function readCommand(
  ctx: DialContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<DialCommand | null> {
  if (!bearerMatches(req.headers.authorization, ctx.token)) {
    ctx.stats.rejected.unauthorized++
    req.resume()
    send(
      res,
      401,
      {
        error: 'unauthorized',
        message: 'missing or wrong bearer token: send "Authorization: Bearer <WORKER_TOKEN>"',
      },
      { 'www-authenticate': 'Bearer' },
    )
    return null
  }
  // tasks are sized against this limit where they are made (src/tasks/limits.ts); the whole body
  // is validated here, its IVR flow once per distinct flow text (parseDialCommand)
  const parsed = await readJson(req, WORKER_MAX_BODY_BYTES, parseDialCommand)
  if (!parsed.success) {
    ctx.stats.rejected.invalid++
    throw new HttpError(400, 'invalid_dial_command', describeZodError(parsed.error))
  }
  return parsed.data
}

/** Phase 2: local capacity; a slot is taken here, before the first await of the claim. */
function admitLocally(ctx: DialContext, cmd: DialCommand, res: ServerResponse): boolean {
  const { calls, driver } = ctx
  if (calls.draining) {
    // A state, not a fault: the dialer defers the task (no receive spent) by the short
    // Retry-After; another worker, or this one restarted, takes it (worker-client.ts DRAINING).
    ctx.stats.rejected.unavailable++
    send(
      res,
      503,
      { error: DRAINING, message: 'worker is shutting down; retry later' },
      { 'retry-after': ctx.retryAfter },
    )
    return false
  }
  if (!driver.healthy()) {
    ctx.stats.rejected.unavailable++
    send(
      res,
      503,
      { error: 'unavailable', message: `telephony driver ${driver.name} is not healthy; retry later` },
      { 'retry-after': ctx.unavailableRetryAfter },
    )
    return false
  }
  const full = capacityRefusal(ctx, cmd)
  if (full) {
    ctx.stats.rejected.capacity++
    send(res, 429, full, { 'retry-after': ctx.retryAfter })
    return false
  }
  calls.take(cmd.campaignId)
  return true
}

/** The 429 body when a cap is reached: this worker's, or the campaign's maxConcurrentCalls. */
function capacityRefusal(ctx: DialContext, cmd: DialCommand): { error: string; message: string } | null {
  const { active } = ctx.calls
  if (active >= ctx.maxActiveCalls)
    return {
      error: 'worker_at_capacity',
      message: `worker runs ${active} of ${ctx.maxActiveCalls} calls; retry later`,
    }
  const campaignActive = ctx.calls.ofCampaign(cmd.campaignId)
  if (cmd.maxConcurrentCalls !== undefined && campaignActive >= cmd.maxConcurrentCalls)
    return {
      error: 'campaign_at_capacity',
      message: `campaign ${cmd.campaignId} runs ${campaignActive} of maxConcurrentCalls ${cmd.maxConcurrentCalls} on this worker; retry later`,
    }
  return null
}

/**
 * Phase 3: the dial gate (claimCall), plus adoption of a call row left by a claim whose reply
 * was lost here. `unavailable` when PostgreSQL failed: the claim may or may not have committed.
 */
async function claim(ctx: DialContext, cmd: DialCommand): Promise<Claim> {
  let result: ClaimResult
  try {
    result = await claimCall(ctx.db, cmd, ctx.workerId, { now: ctx.now })
  } catch (error) {
    ctx.claims.add(cmd.callId)
    return { kind: 'unavailable', error: errorText(error) }
  }
  // Taken before any await: of two concurrent redeliveries, only one may adopt the row.
  const uncertain = ctx.claims.take(cmd.callId)
  if (
    result.kind !== 'duplicate' ||
    !uncertain ||
    result.callId !== cmd.callId ||
    ctx.calls.runningIds.has(cmd.callId)
  )
    return result
  try {
    // The gate decides again: the redelivery may come long after the lost claim.
    const adopted = await adoptOrphanCall(ctx.db, cmd, ctx.workerId, { now: ctx.now })
    if (adopted.kind !== 'claimed') return adopted
    ctx.logger.warn('call row left by a failed start adopted: placing the call now', { callId: cmd.callId })
    return { kind: 'claimed', callId: adopted.callId, attempt: adopted.attempt, adopted: true }
  } catch (error) {
    ctx.claims.add(cmd.callId)
    return { kind: 'unavailable', error: errorText(error) }
  }
}

/** Phase 4: answer a claim that places no call; gives the slot back. */
function answerNoCall(
  ctx: DialContext,
  cmd: DialCommand,
  result: Exclude<Claim, { kind: 'claimed' }>,
  res: ServerResponse,
): void {
  const { stats, logger } = ctx
  ctx.calls.release(cmd.campaignId)
  // log fields as literals, not `{ ...ids, more keys }` (a slow path in V8, issue #17)
  const { callId, campaignId, contactId } = cmd
  switch (result.kind) {
    case 'unavailable':
      stats.rejected.unavailable++
      logger.error('could not record the call start; not dialing', {
        callId,
        campaignId,
        contactId,
        error: result.error,
      })
      return send(
        res,
        503,
        { error: 'database_unavailable', message: 'could not record the call in PostgreSQL; retry later' },
        { 'retry-after': ctx.unavailableRetryAfter },
      )
    case 'duplicate':
      stats.rejected.duplicate++
      logger.info('duplicate dial ignored', { callId: result.callId, campaignId, contactId })
      return send(res, 200, { callId: result.callId, duplicate: true })
    case 'refused': {
      if (result.reason === 'blacklisted') stats.rejected.blacklisted++
      else stats.rejected.gate++
      const reason = result.reason === 'blacklisted' ? 'blacklisted' : refusalReason(result)
      logger.warn('dial gate refused the dial: not dialing', {
        callId,
        campaignId,
        contactId,
        attempt: result.attempt,
        reason,
        contact: result.effect.kind,
        phoneNumber: maskPhone(cmd.phoneNumber),
      })
      return send(res, 409, {
        callId: cmd.callId,
        error: result.reason,
        reason,
        message:
          result.reason === 'blacklisted'
            ? 'the number is on the blacklist; it is never dialed'
            : result.detail,
      })
    }
  }
}

/** Phase 5: the claim holds; run the call in the background and answer 202. */
function placeCall(
  ctx: DialContext,
  cmd: DialCommand,
  attempt: number,
  res: ServerResponse,
  traceParent?: TraceContext,
): void {
  const { calls, logger } = ctx
  ctx.stats.attempted++
  logger.info('call accepted', {
    callId: cmd.callId,
    campaignId: cmd.campaignId,
    contactId: cmd.contactId,
    attempt,
    phoneNumber: maskPhone(cmd.phoneNumber),
  })
  calls.runningIds.add(cmd.callId)
  // The trunk gate (slot wait) ran before the claim, so the dial gate's verdict is the last word
  // before origination (issue #11) and the instants keep the limiter's spacing (issue #12).
  const base = { db: ctx.db, driver: ctx.driver, logger }
  const { deps, trace } = traceCall(ctx.tracer, traceParent, base, cmd, attempt)
  const task: Promise<void> = runCall(deps, cmd, attempt, ctx.call)
    .then(async (summary) => {
      trace?.end(summary)
      ctx.stats.callEnded(summary.status, summary.recorded, summary.reason)
      if (summary.reason === 'media') await guardMedia(ctx, cmd.campaignId)
    })
    .catch((error: unknown) => logger.error('call crashed', { callId: cmd.callId, error: String(error) }))
    .finally(() => {
      calls.running.delete(task)
      calls.runningIds.delete(cmd.callId)
      calls.release(cmd.campaignId)
    })
  calls.running.add(task)
  send(res, 202, { callId: cmd.callId, status: 'accepted' })
}

/** After a media failure: pause the campaign when its audio keeps failing (unless turned off). */
async function guardMedia(ctx: DialContext, campaignId: string): Promise<void> {
  if (ctx.mediaGuard === false || !('totalCount' in ctx.db)) return
  const { paused, health } = await guardCampaignMedia(ctx.db, campaignId, ctx.mediaGuard || undefined)
  if (paused)
    ctx.logger.error('campaign paused: its audio keeps failing', {
      campaignId,
      mediaFailures: health.mediaFailures,
      pickedUp: health.pickedUp,
    })
}
