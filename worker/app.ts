import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import { refusalReason, type ClaimResult } from '../src/calls/gate.js'
import { adoptOrphanCall, claimCall } from '../src/calls/recorder.js'
import { runCall, type RunCallOptions } from '../src/calls/run-call.js'
import { describeZodError } from '../src/contracts/errors.js'
import { DialCommand } from '../src/contracts/messages.js'
import type { Db } from '../src/db/pool.js'
import { createLogger, type Logger } from '../src/observability/logger.js'
import { maskPhone, maskPhonesIn } from '../src/observability/mask.js'
import type { TelephonyDriver } from '../src/telephony/driver.js'
import { guardCampaignMedia, type MediaGuardPolicy } from '../src/telephony/media-health.js'
import { bearerMatches } from './auth.js'
import { createTrunkGate } from '../src/pacing/slot-wait.js'
import { WorkerStats, type WorkerMetrics } from './stats.js'
import { WORKER_MAX_BODY_BYTES } from '../src/tasks/limits.js'
import { errorMessage } from '../src/errors.js'
import { NO_TRACER, type Tracer } from '../src/tracing/tracer.js'
import { openClaimSpan } from '../src/tracing/worker-spans.js'
import type { TraceContext } from '../src/tracing/context.js'

export interface WorkerCaps {
  /** calls this process runs at once (MAX_ACTIVE_CALLS) */
  maxActiveCalls: number
  /** Retry-After on 429 (over a cap), seconds; default 1 */
  retryAfterSeconds?: number
  /** Retry-After on 503 (driver down, draining, PostgreSQL unreachable), seconds; default 5 */
  unavailableRetryAfterSeconds?: number
}

export interface CreateWorkerOptions {
  db: Db
  driver: TelephonyDriver
  /** the bearer token POST /dial requires (WORKER_TOKEN) */
  token: string
  /** names this worker's rows in call_attempts; keep it stable across restarts (recovery uses it) */
  workerId: string
  caps: WorkerCaps
  logger?: Logger
  call?: RunCallOptions
  /** how long close() waits for active calls before giving up on them; default 30 s */
  drainTimeoutMs?: number
  /** pause a campaign whose audio keeps failing (default DEFAULT_MEDIA_GUARD); false: never */
  mediaGuard?: MediaGuardPolicy | false
  /** the dial gate's clock (calling windows); default the system clock */
  now?: () => Date
  /** HTTP server bounds, ms; default WORKER_HTTP_TIMEOUTS */
  http?: Partial<typeof WORKER_HTTP_TIMEOUTS>
  /** spans of each call (issue #19): the X-Ray daemon sidecar on AWS, PostgreSQL under `dev --trace` */
  tracer?: Tracer
}

/**
 * What an operator expects of an internal API whose requests are a few hundred bytes answered in
 * milliseconds (Node's defaults — 300 s per request, 60 s for headers — let a slow-body
 * "slowloris" connection hold a socket for 5 minutes, issue #15):
 * - headers within 10 s, the whole request (body included) within 15 s — 3× the dialer's 5 s
 *   timeout (src/dialer/worker-client.ts), so a slow but honest dialer is never cut first;
 * - idle keep-alive 10 s: longer than a dialer's gap between batches, short enough to shed idle
 *   sockets; headers timeout above it, as Node advises, so a reused socket never races it;
 * - the expiry check every second (Node checks every 30 s by default).
 */
export const WORKER_HTTP_TIMEOUTS = {
  headersTimeoutMs: 11_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 10_000,
  checkIntervalMs: 1_000,
}

export interface Worker {
  server: Server
  /** resolves with the bound port (pass 0 for an ephemeral one) */
  listen(port: number, host?: string): Promise<number>
  /**
   * Drains: keeps listening and answers POST /dial with 503 + Retry-After (so dialers retry
   * elsewhere instead of seeing "connection refused"), waits for active calls (bounded by
   * drainTimeoutMs), then closes the listener.
   */
  close(): Promise<{ unfinishedCalls: number }>
  /** resolves when no call is active (tests, the local stack's shutdown) */
  idle(): Promise<void>
  metrics(): WorkerMetrics
  readonly activeCalls: number
}

/** What POST /dial accepts; tasks are sized against it where they are made (src/tasks/limits.ts). */
const MAX_BODY_BYTES = WORKER_MAX_BODY_BYTES

/** What the claim phase decided: the gate's answer, or PostgreSQL could not be asked. */
type Claim =
  | { kind: 'claimed'; callId: string; attempt: number; adopted?: boolean }
  | Exclude<ClaimResult, { kind: 'claimed' }>
  | { kind: 'unavailable'; error: string }

const errorText = (error: unknown) => maskPhonesIn(error instanceof Error ? error.message : String(error))

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES)
      throw new HttpError(
        413,
        'body_too_large',
        `body: larger than ${MAX_BODY_BYTES} bytes; send one dial command`,
      )
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'invalid_json', 'body: must be a JSON DialCommand object')
  }
}

/** Rejects after `ms` so a hung PostgreSQL cannot hang the health check. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)
    }),
  ])
}

/**
 * The worker's HTTP API: POST /dial (accept a call and run it in the background), GET /health,
 * GET /metrics. Used in-process by the local stack and by worker/main.ts in production.
 */
export function createWorker(options: CreateWorkerOptions): Worker {
  const { db, driver, token, workerId, caps } = options
  if (!token) throw new Error('worker token is empty: set WORKER_TOKEN to a long random string')
  const logger = options.logger ?? createLogger('worker')
  const retryAfter = String(caps.retryAfterSeconds ?? 1)
  const unavailableRetryAfter = String(caps.unavailableRetryAfterSeconds ?? 5)
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000
  const stats = new WorkerStats()
  const now = options.now ?? (() => new Date())
  // originations leave at their slot and never more than the limit in any 1000 ms (#12)
  const trunk = createTrunkGate()
  const tracer = options.tracer ?? NO_TRACER

  // A slot is taken before the first await of a dial, so concurrent requests cannot both pass
  // the cap check; it is given back on duplicate / error, or when the call ends.
  let active = 0
  const activeByCampaign = new Map<string, number>()
  const running = new Set<Promise<void>>()
  let idleWaiters: (() => void)[] = []
  let draining = false
  // Call ids whose beginCall failed here: its INSERT may have committed all the same (reply lost),
  // leaving a 'dialing' row no call runs for. When the task comes back, that row is ours to adopt.
  const uncertainBegins = new Set<string>()
  const MAX_UNCERTAIN = 10_000
  const runningCallIds = new Set<string>()

  const take = (campaignId: string) => {
    active++
    activeByCampaign.set(campaignId, (activeByCampaign.get(campaignId) ?? 0) + 1)
  }
  const release = (campaignId: string) => {
    active--
    const left = (activeByCampaign.get(campaignId) ?? 1) - 1
    if (left <= 0) activeByCampaign.delete(campaignId)
    else activeByCampaign.set(campaignId, left)
    if (active === 0) {
      const waiters = idleWaiters
      idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /** 503 with Retry-After: PostgreSQL did not answer the claim; nothing was dialed. */
  const dbUnavailable = (res: ServerResponse) =>
    send(
      res,
      503,
      { error: 'database_unavailable', message: 'could not record the call in PostgreSQL; retry later' },
      { 'retry-after': unavailableRetryAfter },
    )

  /** Phase 1: who may dial, and is the body a DialCommand. */
  async function readCommand(req: IncomingMessage, res: ServerResponse): Promise<DialCommand | null> {
    if (!bearerMatches(req.headers.authorization, token)) {
      stats.rejected.unauthorized++
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
    const parsed = DialCommand.safeParse(await readJson(req))
    if (!parsed.success) {
      stats.rejected.invalid++
      throw new HttpError(400, 'invalid_dial_command', describeZodError(parsed.error))
    }
    return parsed.data
  }

  /** Phase 2: local capacity; a slot is taken here, before the first await of the claim. */
  function admitLocally(cmd: DialCommand, res: ServerResponse): boolean {
    if (draining || !driver.healthy()) {
      stats.rejected.unavailable++
      const why = draining ? 'worker is shutting down' : `telephony driver ${driver.name} is not healthy`
      send(
        res,
        503,
        { error: 'unavailable', message: `${why}; retry later` },
        { 'retry-after': unavailableRetryAfter },
      )
      return false
    }
    const campaignActive = activeByCampaign.get(cmd.campaignId) ?? 0
    const full =
      active >= caps.maxActiveCalls
        ? {
            error: 'worker_at_capacity',
            message: `worker runs ${active} of ${caps.maxActiveCalls} calls; retry later`,
          }
        : cmd.maxConcurrentCalls !== undefined && campaignActive >= cmd.maxConcurrentCalls
          ? {
              error: 'campaign_at_capacity',
              message: `campaign ${cmd.campaignId} runs ${campaignActive} of maxConcurrentCalls ${cmd.maxConcurrentCalls} on this worker; retry later`,
            }
          : null
    if (full) {
      stats.rejected.capacity++
      send(res, 429, full, { 'retry-after': retryAfter })
      return false
    }
    take(cmd.campaignId)
    return true
  }

  /**
   * Phase 3: the dial gate (claimCall), plus adoption of a call row left by a claim whose reply
   * was lost here. `unavailable` when PostgreSQL failed: the claim may or may not have committed.
   */
  async function claim(cmd: DialCommand): Promise<Claim> {
    let result: ClaimResult
    try {
      result = await claimCall(db, cmd, workerId, { now })
    } catch (error) {
      if (uncertainBegins.size >= MAX_UNCERTAIN) {
        const oldest = uncertainBegins.values().next()
        if (!oldest.done) uncertainBegins.delete(oldest.value)
      }
      uncertainBegins.add(cmd.callId)
      return { kind: 'unavailable', error: errorText(error) }
    }
    // Deleted before any await: of two concurrent redeliveries, only one may adopt the row.
    const uncertain = uncertainBegins.delete(cmd.callId)
    if (
      result.kind !== 'duplicate' ||
      !uncertain ||
      result.callId !== cmd.callId ||
      runningCallIds.has(cmd.callId)
    )
      return result
    try {
      // The gate decides again: the redelivery may come long after the lost claim.
      const adopted = await adoptOrphanCall(db, cmd, workerId, { now })
      if (adopted.kind !== 'claimed') return adopted
      logger.warn('call row left by a failed start adopted: placing the call now', { callId: cmd.callId })
      return { kind: 'claimed', callId: adopted.callId, attempt: adopted.attempt, adopted: true }
    } catch (error) {
      uncertainBegins.add(cmd.callId)
      return { kind: 'unavailable', error: errorText(error) }
    }
  }

  /** Phase 4: answer a claim that places no call; gives the slot back. */
  function answerNoCall(cmd: DialCommand, result: Exclude<Claim, { kind: 'claimed' }>, res: ServerResponse) {
    release(cmd.campaignId)
    const ids = { callId: cmd.callId, campaignId: cmd.campaignId, contactId: cmd.contactId }
    switch (result.kind) {
      case 'unavailable':
        stats.rejected.unavailable++
        logger.error('could not record the call start; not dialing', { ...ids, error: result.error })
        return dbUnavailable(res)
      case 'duplicate':
        stats.rejected.duplicate++
        logger.info('duplicate dial ignored', { ...ids, callId: result.callId })
        return send(res, 200, { callId: result.callId, duplicate: true })
      case 'refused': {
        if (result.reason === 'blacklisted') stats.rejected.blacklisted++
        else stats.rejected.gate++
        const reason = result.reason === 'blacklisted' ? 'blacklisted' : refusalReason(result)
        logger.warn('dial gate refused the dial: not dialing', {
          ...ids,
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
  function placeCall(cmd: DialCommand, attempt: number, res: ServerResponse, traceParent?: TraceContext) {
    stats.attempted++
    logger.info('call accepted', {
      callId: cmd.callId,
      campaignId: cmd.campaignId,
      contactId: cmd.contactId,
      attempt,
      phoneNumber: maskPhone(cmd.phoneNumber),
    })
    runningCallIds.add(cmd.callId)
    // The trunk gate (slot wait) ran before the claim, so the dial gate's verdict is the last word
    // before origination (issue #11) and the instants keep the limiter's spacing (issue #12).
    const deps = { db, driver, logger, tracer, ...(traceParent ? { traceParent } : {}) }
    const task: Promise<void> = runCall(deps, cmd, attempt, options.call)
      .then(async (summary) => {
        stats.callEnded(summary.status, summary.recorded, summary.reason)
        if (summary.reason !== 'media' || options.mediaGuard === false || !('totalCount' in db)) return
        const { paused, health } = await guardCampaignMedia(
          db,
          cmd.campaignId,
          options.mediaGuard || undefined,
        )
        if (paused)
          logger.error('campaign paused: its audio keeps failing', {
            campaignId: cmd.campaignId,
            mediaFailures: health.mediaFailures,
            pickedUp: health.pickedUp,
          })
      })
      .catch((error: unknown) => logger.error('call crashed', { callId: cmd.callId, error: String(error) }))
      .finally(() => {
        running.delete(task)
        runningCallIds.delete(cmd.callId)
        release(cmd.campaignId)
      })
    running.add(task)
    send(res, 202, { callId: cmd.callId, status: 'accepted' })
  }

  async function dial(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cmd = await readCommand(req, res)
    if (!cmd || !admitLocally(cmd, res)) return
    // Originate at the limiter's slot, not when the POST happened to arrive (src/pacing/slot-wait.ts);
    // the wait comes before the claim so the dial gate decides at the moment of the dial.
    const slotWaitStart = Date.now()
    await trunk.pass(cmd.notBefore, cmd.cpsLimit)
    const span = tracer.enabled
      ? openClaimSpan(tracer, req.headers, cmd, Date.now() - slotWaitStart)
      : undefined
    const result = await claim(cmd)
    span?.end({ status: result.kind, ...(result.kind === 'refused' ? { reason: result.reason } : {}) })
    if (result.kind !== 'claimed') return answerNoCall(cmd, result, res)
    placeCall(cmd, result.attempt, res, span?.ctx)
  }

  async function health(res: ServerResponse): Promise<void> {
    let dbStatus: { ok: boolean; error?: string }
    try {
      await withTimeout(db.query('SELECT 1'), 2000, 'PostgreSQL')
      dbStatus = { ok: true }
    } catch (error) {
      dbStatus = { ok: false, error: maskPhonesIn(errorMessage(error)) }
    }
    const driverOk = driver.healthy()
    const ok = dbStatus.ok && driverOk && !draining
    send(res, ok ? 200 : 503, {
      status: ok ? 'ok' : 'unhealthy',
      workerId,
      draining,
      driver: { name: driver.name, healthy: driverOk },
      db: dbStatus,
      activeCalls: active,
    })
  }

  const snapshot = () =>
    stats.snapshot({
      workerId,
      driver: driver.name,
      activeCalls: active,
      activeByCampaign: Object.fromEntries(activeByCampaign),
    })

  const http = { ...WORKER_HTTP_TIMEOUTS, ...options.http }
  const server = createServer({ connectionsCheckingInterval: http.checkIntervalMs }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const route = `${req.method} ${path}`
    const handle = async () => {
      if (route === 'POST /dial') return dial(req, res)
      if (route === 'GET /health') return health(res)
      if (route === 'GET /metrics') return send(res, 200, snapshot())
      req.resume()
      if (['/dial', '/health', '/metrics'].includes(path ?? ''))
        throw new HttpError(
          405,
          'method_not_allowed',
          `${req.method} ${path}: use POST /dial, GET /health, GET /metrics`,
        )
      throw new HttpError(
        404,
        'not_found',
        `${path}: the worker serves POST /dial, GET /health, GET /metrics`,
      )
    }
    handle().catch((error: unknown) => {
      if (res.headersSent) return
      if (error instanceof HttpError)
        return send(res, error.status, { error: error.code, message: error.message })
      logger.error('request failed', { route, error: maskPhonesIn(errorMessage(error)) })
      send(res, 500, { error: 'internal', message: 'the worker failed on this request; see its logs' })
    })
  })
  server.headersTimeout = http.headersTimeoutMs
  server.requestTimeout = http.requestTimeoutMs
  server.keepAliveTimeout = http.keepAliveTimeoutMs

  return {
    server,
    get activeCalls() {
      return active
    },
    metrics: snapshot,
    listen(port: number, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve((server.address() as AddressInfo).port)
        })
      })
    },
    idle() {
      return active === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))
    },
    async close() {
      draining = true
      let timer: NodeJS.Timeout | undefined
      const drained = await Promise.race([
        Promise.allSettled([...running]).then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), drainTimeoutMs)
        }),
      ])
      clearTimeout(timer)
      if (!drained)
        logger.warn(
          'calls still active after the drain timeout; they stay dialing until this worker restarts',
          {
            activeCalls: active,
            drainTimeoutMs,
          },
        )
      if (server.listening) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await closed
      }
      return { unfinishedCalls: drained ? 0 : active }
    },
  }
}

/** Env shape of worker/main.ts, exported so the local stack and docs share it. */
export const WorkerEnv = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  WORKER_TOKEN: z.string().min(16, 'WORKER_TOKEN must be at least 16 characters (a long random string)'),
  WORKER_ID: z.string().min(1).optional(),
  MAX_ACTIVE_CALLS: z.coerce.number().int().positive().default(200),
  DRIVER: z.enum(['sim', 'ari']).default('sim'),
  RING_TIMEOUT_SECONDS: z.coerce.number().int().positive().default(30),
  DRAIN_TIMEOUT_SECONDS: z.coerce.number().int().nonnegative().default(30),
})
export type WorkerEnv = z.infer<typeof WorkerEnv>
