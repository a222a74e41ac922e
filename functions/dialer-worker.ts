/**
 * Lambda entry point: the dial-tasks pipe's target. Clients live at module scope so warm
 * invocations reuse them (one Redis connection, a small pg pool); the logic is in src/dialer.
 * Stores and the worker token come from the function's SST links (src/lambda/links.ts).
 */
import { SQSClient } from '@aws-sdk/client-sqs'
import type { Context, SQSBatchResponse } from 'aws-lambda'
import { createPool } from '../src/db/pool.js'
import { createDialer, dialerDeps, readDialerEnv } from '../src/dialer/create-dialer.js'
import { linkedPostgres, linkedRedis, linkedWorkerToken } from '../src/lambda/links.js'
import { lambdaRuntime } from '../src/lambda/runtime.js'
import { SERVICE } from '../src/observability/metrics.js'
import { createRedisClient } from '../src/stores/redis.js'
import { SqsQueue } from '../src/queue/sqs-queue.js'

const rt = lambdaRuntime(SERVICE.dialer)
const config = readDialerEnv({ ...process.env, WORKER_TOKEN: linkedWorkerToken() })

// The dial path's client: a command fails at once while disconnected (→ degraded pacing) instead
// of queueing until the Lambda times out; it keeps reconnecting in the background.
const redis = createRedisClient(linkedRedis(), { role: 'dialer' })
// The cold start waits (bounded) for the first connection, so it does not start degraded.
const firstConnection = new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 2000)
  redis.once('ready', () => {
    clearTimeout(timer)
    resolve()
  })
})

const pool = createPool(linkedPostgres(), { max: 2 })
// Deferred tasks go back to the pipe's own source queue, delayed to their next slot.
const queue = config.DIAL_TASKS_QUEUE_URL
  ? new SqsQueue({ client: new SQSClient({}), queueUrl: config.DIAL_TASKS_QUEUE_URL })
  : undefined
const dial = createDialer(
  dialerDeps({
    redis,
    db: pool,
    logger: rt.logger,
    metrics: rt.metrics,
    // each task's spans in its trace (the header enrich passed on), x-amzn-trace-id on POST /dial
    tracer: rt.tracer,
    config,
    ...(queue ? { queue } : {}),
  }),
)

export const handler = rt.wrap(async (event: unknown, _context?: Context): Promise<SQSBatchResponse> => {
  await firstConnection
  return dial(event)
})
