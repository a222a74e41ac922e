import { z } from 'zod'
import { describeZodError } from '../contracts/index.js'
import { DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import { DEFAULT_HORIZON_SECONDS, DEFAULT_MAX_PER_RUN } from './dispatch.js'
import { DEFAULT_STUCK_AFTER_SECONDS } from './recovery.js'
import { DEFAULT_TRACE_SAMPLE_RATE } from '../tracing/stamp.js'

const positiveInt = z.coerce.number().int().positive()

/** The dispatcher Lambda's environment; every value but QUEUE_URL has a default. */
export const DispatcherEnv = z.object({
  /** the dial-tasks queue (SQS URL) */
  QUEUE_URL: z.url(),
  DIALCTL_REDIS_PREFIX: z.string().default(''),
  MAX_CPS: positiveInt.default(DEFAULT_MAX_CPS),
  DISPATCH_HORIZON_SECONDS: positiveInt.default(DEFAULT_HORIZON_SECONDS),
  DISPATCH_MAX_PER_RUN: positiveInt.default(DEFAULT_MAX_PER_RUN),
  DISPATCH_STUCK_AFTER_SECONDS: positiveInt.default(DEFAULT_STUCK_AFTER_SECONDS),
  /** share (0..1) of the tasks it queues that X-Ray traces; set by stacks/functions.ts */
  TRACE_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(DEFAULT_TRACE_SAMPLE_RATE),
})
export type DispatcherEnv = z.infer<typeof DispatcherEnv>

export function readDispatcherEnv(env: NodeJS.ProcessEnv = process.env): DispatcherEnv {
  const parsed = DispatcherEnv.safeParse(env)
  if (!parsed.success)
    throw new Error(
      `dispatcher environment invalid: ${describeZodError(parsed.error)}; set it on the function`,
    )
  return parsed.data
}
