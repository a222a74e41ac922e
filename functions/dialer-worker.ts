/**
 * Lambda entry point: the dial-tasks pipe's target. Clients live at module scope so warm
 * invocations reuse them (one Redis connection, a small pg pool); the logic is in src/dialer.
 */
import { Metrics } from '@aws-lambda-powertools/metrics'
import { SQSClient } from '@aws-sdk/client-sqs'
import { createPool, pgSettingsFromEnv } from '../src/db/pool.js'
import { createRedisClient, redisSettingsFromEnv } from '../src/stores/redis.js'
import { createDialer, dialerDeps, readDialerEnv } from '../src/dialer/create-dialer.js'
import type { DialerResponse } from '../src/dialer/ports.js'
import { createLogger } from '../src/observability/logger.js'
import { METRIC_NAMESPACE } from '../src/observability/metrics.js'
import { SqsQueue } from '../src/queue/sqs-queue.js'

const config = readDialerEnv()
const logger = createLogger('dialer-worker')
const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: 'dialer-worker' })

// The dialer role fails a command at once while disconnected (→ degraded pacing) instead of
// queueing it until the Lambda times out; errors are reported through degraded mode (one log line
// per transition), not once per reconnect attempt.
const redis = createRedisClient(redisSettingsFromEnv(process.env, config.REDIS_URL), { role: 'dialer' })
// The cold start waits (bounded) for the first connection, so it does not start degraded.
const firstConnection = new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 2000)
  redis.once('ready', () => {
    clearTimeout(timer)
    resolve()
  })
})

const pool = createPool(pgSettingsFromEnv(), { max: 2 })
// Deferred tasks go back to the pipe's own source queue, delayed to their next slot.
const queue = config.DIAL_TASKS_QUEUE_URL
  ? new SqsQueue({ client: new SQSClient({}), queueUrl: config.DIAL_TASKS_QUEUE_URL })
  : undefined
const dial = createDialer(
  dialerDeps({ redis, db: pool, logger, metrics, config, ...(queue ? { queue } : {}) }),
)

export async function handler(event: unknown): Promise<DialerResponse> {
  await firstConnection
  try {
    return await dial(event)
  } finally {
    metrics.publishStoredMetrics()
  }
}
