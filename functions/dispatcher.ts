/**
 * Lambda entry point: one round of a campaign's Step Functions loop (dispatch → wait → dispatch).
 * Input `{campaignId}`; output `{campaignStatus, eligibleRemaining, hasMoreEligible, waitSeconds,
 * queued, …}` (src/dispatch/handler.ts). Clients are created on the first invocation and reused,
 * so importing this module (the local stack does, for createDispatcherLoop) needs no AWS env.
 */
import type { Context } from 'aws-lambda'
import { SQSClient } from '@aws-sdk/client-sqs'
import { createPool } from '../src/db/pool.js'
import { readDispatcherEnv } from '../src/dispatch/env.js'
import { handleDispatch, type DispatcherDeps, type DispatcherOutput } from '../src/dispatch/handler.js'
import { hasRedis, linkedPostgres, linkedRedis } from '../src/lambda/links.js'
import { asError } from '../src/errors.js'
import { lambdaRuntime } from '../src/lambda/runtime.js'
import { SERVICE } from '../src/observability/metrics.js'
import { createLimitStore } from '../src/pacing/limit-store.js'
import { SqsQueue } from '../src/queue/sqs-queue.js'
import { stampingQueue } from '../src/tracing/stamp.js'
import { createRedisClient } from '../src/stores/redis.js'

export { createDispatcherLoop } from '../src/dispatch/loop.js'
export type { DispatcherLoop, DispatcherLoopOptions } from '../src/dispatch/loop.js'

const rt = lambdaRuntime(SERVICE.dispatcher)
let deps: DispatcherDeps | undefined

function lambdaDeps(): DispatcherDeps {
  if (deps) return deps
  const env = readDispatcherEnv()
  const db = createPool(linkedPostgres(), { max: 2 })
  let getLimit = async () => env.MAX_CPS
  if (hasRedis()) {
    // the limit store falls back to its last value / MAX_CPS when Redis fails; with the
    // database it restores the operator's limit when Redis lost it (the dialers' limit too)
    const redis = createRedisClient(linkedRedis(), { role: 'service' })
    const store = createLimitStore({ redis, prefix: env.DIALCTL_REDIS_PREFIX, db, defaultLimit: env.MAX_CPS })
    getLimit = async () => (await store.getLimit()).limit
  }
  const sqs = new SqsQueue({ client: new SQSClient({}), queueUrl: env.QUEUE_URL })
  deps = {
    db,
    // With X-Ray active tracing each task it queues starts its own trace (AWSTraceHeader),
    // sampled at TRACE_SAMPLE_RATE (Sampled=0 tasks carry the header, nothing records them).
    queue: rt.tracer.enabled ? stampingQueue(sqs, { sampleRate: env.TRACE_SAMPLE_RATE }) : sqs,
    limits: { getLimit, horizonSeconds: env.DISPATCH_HORIZON_SECONDS, maxPerRun: env.DISPATCH_MAX_PER_RUN },
    logger: rt.logger,
    stuckAfterSeconds: env.DISPATCH_STUCK_AFTER_SECONDS,
  }
  return deps
}

export const handler = rt.wrap(async (event: unknown, _context?: Context): Promise<DispatcherOutput> => {
  try {
    return await handleDispatch(event, lambdaDeps())
  } catch (error) {
    // Thrown on purpose: the execution fails visibly (alarmed) rather than ending as "done".
    rt.logger.error('dispatch round failed', asError(error))
    throw error
  }
})
