import type { Redis } from 'ioredis'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import type { Db } from '../db/pool.js'
import type { Logger } from '../observability/logger.js'
import { createResilientLimiter, DEFAULT_DEGRADED_CPS } from '../pacing/degraded.js'
import { recordDegradedPeriod } from '../pacing/history.js'
import { createLimitStore, DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import { createRedisLimiter } from '../pacing/limiter.js'
import { createRedisDialMarker } from './dial-marker.js'
import { handleDialBatch, handleEnrichedTasks, type DialerDeps } from './handle-batch.js'
import { tracedDialerDeps } from './trace.js'
import type { EnrichedDialTask } from '../contracts/index.js'
import type { QueuePort } from '../queue/port.js'
import type { Tracer } from '../tracing/tracer.js'
import {
  createPgOutcomeRecorder,
  queueRequeue,
  type DialerResponse,
  type MetricsPort,
  type Sleep,
} from './ports.js'
import { createWorkerClient, DEFAULT_WORKER_TIMEOUT_MS } from './worker-client.js'

const PositiveInt = z.coerce.number().int().min(1)

/**
 * The dialer's plain settings (Lambda or local stack); errors name the variable to fix. Redis and
 * the worker token come from SST links on AWS (src/lambda/links.ts), not from these variables.
 */
export const DialerEnv = z.object({
  WORKER_URL: z.url({ message: 'must be the worker base URL, e.g. http://worker.internal:8080' }),
  WORKER_TOKEN: z.string().min(1, 'must be the bearer token the worker expects'),
  MAX_CPS: PositiveInt.default(DEFAULT_MAX_CPS),
  DEGRADED_CPS: PositiveInt.default(DEFAULT_DEGRADED_CPS),
  WORKER_TIMEOUT_MS: PositiveInt.default(DEFAULT_WORKER_TIMEOUT_MS),
  /** key prefix of the pacing state, shared with dialctl (stages sharing one Redis) */
  DIALCTL_REDIS_PREFIX: z.string().default(''),
  /**
   * The dial-tasks queue URL: tasks the limiter cannot admit are re-sent there with a delay
   * (deferral). Unset: they are returned as failures and spend a receive (the old behaviour).
   */
  DIAL_TASKS_QUEUE_URL: z.url({ message: 'must be the dial-tasks SQS queue URL' }).optional(),
  /** the dial-tasks queue's maxReceiveCount: a retry on the last receive is warned of (DLQ next) */
  MAX_RECEIVE_COUNT: PositiveInt.optional(),
})
export type DialerEnv = z.infer<typeof DialerEnv>

export function readDialerEnv(env: NodeJS.ProcessEnv = process.env): DialerEnv {
  const parsed = DialerEnv.safeParse(env)
  if (!parsed.success) throw new Error(`dialer configuration: ${describeZodError(parsed.error)}`)
  return parsed.data
}

export interface DialerClients {
  redis: Redis
  db: Db
  logger: Logger
  metrics: MetricsPort
  config: Pick<
    DialerEnv,
    'WORKER_URL' | 'WORKER_TOKEN' | 'MAX_CPS' | 'DEGRADED_CPS' | 'WORKER_TIMEOUT_MS' | 'DIALCTL_REDIS_PREFIX'
  > &
    Partial<Pick<DialerEnv, 'MAX_RECEIVE_COUNT'>>
  sleep?: Sleep
  /** the dial-tasks queue, for deferrals (SqsQueue on AWS, PgQueue locally) */
  queue?: Pick<QueuePort, 'sendBatch'>
  /** each task's spans (X-Ray on AWS, PostgreSQL under `dialctl dev --trace`); default none */
  tracer?: Tracer
}

/** Wires the real adapters: Redis limiter + degraded fallback, limit store, markers, worker, PG outcomes. */
export function dialerDeps(clients: DialerClients): DialerDeps & { tracer?: Tracer } {
  const { redis, config } = clients
  const prefix = config.DIALCTL_REDIS_PREFIX
  return {
    limiter: createResilientLimiter({
      primary: createRedisLimiter({ redis, prefix }),
      degradedCps: config.DEGRADED_CPS,
      logger: clients.logger,
      onRecover: (period) => recordDegradedPeriod(redis, period, { prefix }),
    }),
    // the database restores the operator's limit when Redis lost it (MAX_CPS only if never set)
    limitStore: createLimitStore({ redis, prefix, db: clients.db, defaultLimit: config.MAX_CPS }),
    worker: createWorkerClient({
      url: config.WORKER_URL,
      token: config.WORKER_TOKEN,
      timeoutMs: config.WORKER_TIMEOUT_MS,
    }),
    outcomes: createPgOutcomeRecorder(clients.db),
    marker: createRedisDialMarker({ redis, prefix }),
    logger: clients.logger,
    metrics: clients.metrics,
    ...(clients.sleep ? { sleep: clients.sleep } : {}),
    ...(clients.queue ? { requeue: queueRequeue(clients.queue) } : {}),
    ...(config.MAX_RECEIVE_COUNT ? { maxReceiveCount: config.MAX_RECEIVE_COUNT } : {}),
    ...(clients.tracer ? { tracer: clients.tracer } : {}),
  }
}

/** The Lambda's handler: `(enriched list, as Pipes sends it) → batchItemFailures`; parses its event. */
export function createDialer(
  deps: DialerDeps & { tracer?: Tracer },
): (event: unknown) => Promise<DialerResponse> {
  const { tracer } = deps
  // tracing on: this batch's ports wrapped to record each task's spans (trace.ts); off: untouched
  return (event) => handleDialBatch(tracer?.enabled ? tracedDialerDeps(deps, tracer, event) : deps, event)
}

/**
 * The same dialer for a caller in the enrichment's own process (the local stack's pipe): it takes
 * the enrichment's typed output as it is (handleEnrichedTasks), where the Lambda parses the event
 * Pipes sends it. Same phases, ports and tracing as createDialer.
 */
export function createInProcessDialer(
  deps: DialerDeps & { tracer?: Tracer },
): (tasks: readonly EnrichedDialTask[]) => Promise<DialerResponse> {
  const { tracer } = deps
  return (tasks) => handleEnrichedTasks(tracer?.enabled ? tracedDialerDeps(deps, tracer, tasks) : deps, tasks)
}
