import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import type { RunCallOptions } from '../src/calls/run-call.js'
import type { Db } from '../src/db/pool.js'
import { errorMessage } from '../src/errors.js'
import { createLogger, type Logger } from '../src/observability/logger.js'
import { maskPhonesIn } from '../src/observability/mask.js'
import { createTrunkGate } from '../src/pacing/slot-wait.js'
import type { TelephonyDriver } from '../src/telephony/driver.js'
import type { MediaGuardPolicy } from '../src/telephony/media-health.js'
import { WorkerCalls } from './calls.js'
import { dial, UncertainClaims, type DialContext } from './dial.js'
import { HttpError, send, withTimeout } from './http.js'
import { WorkerStats, type WorkerMetrics } from './stats.js'
import { NO_TRACER, type Tracer } from '../src/tracing/tracer.js'

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

/**
 * The worker's HTTP API: POST /dial (accept a call and run it in the background), GET /health,
 * GET /metrics. Used in-process by the local stack and by worker/main.ts in production.
 */
export function createWorker(options: CreateWorkerOptions): Worker {
  const { caps } = options
  if (!options.token) throw new Error('worker token is empty: set WORKER_TOKEN to a long random string')
  const logger = options.logger ?? createLogger('worker')
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000
  const ctx: DialContext = {
    db: options.db,
    driver: options.driver,
    token: options.token,
    workerId: options.workerId,
    logger,
    stats: new WorkerStats(),
    calls: new WorkerCalls(),
    claims: new UncertainClaims(),
    // originations leave at their slot and never more than the limit in any 1000 ms (#12)
    trunk: createTrunkGate(),
    now: options.now ?? (() => new Date()),
    maxActiveCalls: caps.maxActiveCalls,
    retryAfter: String(caps.retryAfterSeconds ?? 1),
    unavailableRetryAfter: String(caps.unavailableRetryAfterSeconds ?? 5),
    call: options.call,
    mediaGuard: options.mediaGuard,
    tracer: options.tracer ?? NO_TRACER,
  }
  const { calls } = ctx
  const snapshot = () =>
    ctx.stats.snapshot({
      workerId: ctx.workerId,
      driver: ctx.driver.name,
      activeCalls: calls.active,
      activeByCampaign: Object.fromEntries(calls.byCampaign),
    })
  const server = createWorkerServer(ctx, { ...WORKER_HTTP_TIMEOUTS, ...options.http }, snapshot)

  return {
    server,
    get activeCalls() {
      return calls.active
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
    idle: () => calls.idle(),
    close: () => drainAndClose(ctx, server, drainTimeoutMs),
  }
}

/** The HTTP server: routes, error replies, and the bounds of WORKER_HTTP_TIMEOUTS. */
function createWorkerServer(
  ctx: DialContext,
  http: typeof WORKER_HTTP_TIMEOUTS,
  snapshot: () => WorkerMetrics,
): Server {
  const server = createServer({ connectionsCheckingInterval: http.checkIntervalMs }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const route = `${req.method} ${path}`
    const handle = async () => {
      if (route === 'POST /dial') return dial(ctx, req, res)
      if (route === 'GET /health') return health(ctx, res)
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
      ctx.logger.error('request failed', { route, error: maskPhonesIn(errorMessage(error)) })
      send(res, 500, { error: 'internal', message: 'the worker failed on this request; see its logs' })
    })
  })
  server.headersTimeout = http.headersTimeoutMs
  server.requestTimeout = http.requestTimeoutMs
  server.keepAliveTimeout = http.keepAliveTimeoutMs
  return server
}

/** GET /health: 200 when PostgreSQL answers (within 2 s), the driver is healthy and not draining. */
async function health(ctx: DialContext, res: ServerResponse): Promise<void> {
  let dbStatus: { ok: boolean; error?: string }
  try {
    await withTimeout(ctx.db.query('SELECT 1'), 2000, 'PostgreSQL')
    dbStatus = { ok: true }
  } catch (error) {
    dbStatus = { ok: false, error: maskPhonesIn(errorMessage(error)) }
  }
  const driverOk = ctx.driver.healthy()
  const { draining } = ctx.calls
  const ok = dbStatus.ok && driverOk && !draining
  send(res, ok ? 200 : 503, {
    status: ok ? 'ok' : 'unhealthy',
    workerId: ctx.workerId,
    draining,
    driver: { name: ctx.driver.name, healthy: driverOk },
    db: dbStatus,
    activeCalls: ctx.calls.active,
  })
}

/** Worker.close(): drain (503 to new dials, wait for active calls, bounded), then stop listening. */
async function drainAndClose(
  ctx: DialContext,
  server: Server,
  drainTimeoutMs: number,
): Promise<{ unfinishedCalls: number }> {
  const { calls } = ctx
  calls.draining = true
  const drained = await calls.drain(drainTimeoutMs)
  if (!drained)
    ctx.logger.warn(
      'calls still active after the drain timeout; they stay dialing until this worker restarts',
      {
        activeCalls: calls.active,
        drainTimeoutMs,
      },
    )
  if (server.listening) {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }
  return { unfinishedCalls: drained ? 0 : calls.active }
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
