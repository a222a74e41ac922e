/**
 * Lambda entry point, every minute (stacks/functions.ts `PacerSchedule`): one step of the
 * adaptive controller — the same `autoStep` (src/control/auto.ts → src/pacing/controller.ts)
 * that `dialctl cps auto` runs. Inputs: the worker fleet's CPU (CloudWatch, AWS/ECS) and the
 * answer rate (PostgreSQL); the new limit goes to Redis with an audit entry (actor "pacer").
 * Clients are created on the first invocation and reused while the container is warm.
 */
import { z } from 'zod'
import { autoStep, initialState, type AutoStep } from '../src/control/auto.js'
import { AwsControlPlane, createAwsClients } from '../src/control/aws.js'
import { DataPlane } from '../src/control/data.js'
import { describeZodError } from '../src/contracts/errors.js'
import { createPool, pgSettingsFromEnv } from '../src/db/pool.js'
import { createRedisClient, redisSettingsFromEnv } from '../src/stores/redis.js'
import { createLogger } from '../src/observability/logger.js'
import { DEFAULT_MAX_CPS } from '../src/pacing/limit-store.js'
import { DEFAULT_PACING_POLICY, parsePacingPolicy } from '../src/pacing/policy.js'

const logger = createLogger('pacer')

/** Set by stacks/functions.ts; names the field and the fix when one is missing. */
export const PacerEnv = z.object({
  DIALCTL_STAGE: z.string().min(1),
  /** the local form; in AWS the parts REDIS_HOST/REDIS_PORT/REDIS_PASSWORD/REDIS_TLS (src/stores/redis.ts) */
  REDIS_URL: z.string().min(1).optional(),
  REDIS_HOST: z.string().min(1).optional(),
  DIALCTL_REDIS_PREFIX: z.string().default(''),
  MAX_CPS: z.coerce.number().int().positive().default(DEFAULT_MAX_CPS),
  WORKER_CLUSTER_NAME: z.string().min(1).optional(),
  WORKER_SERVICE_NAME: z.string().min(1).optional(),
  /** JSON PacingPolicy overrides; default: the seed's table */
  PACING_POLICY: z.string().optional(),
})

let plane: AwsControlPlane | undefined

function controlPlane(): AwsControlPlane {
  if (plane) return plane
  const parsed = PacerEnv.safeParse(process.env)
  if (!parsed.success)
    throw new Error(`pacer environment invalid: ${describeZodError(parsed.error)}; set it on the function`)
  const env = parsed.data
  if (!env.REDIS_URL && !env.REDIS_HOST)
    throw new Error(
      'pacer environment invalid: REDIS_HOST (or REDIS_URL) is required; set it on the function',
    )
  const redis = createRedisClient(redisSettingsFromEnv(), { role: 'service' })
  const data = new DataPlane({
    pool: createPool(pgSettingsFromEnv(), { max: 2 }),
    redis,
    redisPrefix: env.DIALCTL_REDIS_PREFIX,
    defaultLimit: env.MAX_CPS,
  })
  // Only the controller's calls are used here (CPU metrics, limit read/write, audit trail);
  // the pipe/queue names are not needed by them.
  plane = new AwsControlPlane(
    env.DIALCTL_STAGE,
    {
      pipeName: '',
      queueUrl: '',
      queueArn: '',
      dlqUrl: '',
      dlqArn: '',
      dialerFunctionName: '',
      ...(env.WORKER_CLUSTER_NAME ? { workerClusterName: env.WORKER_CLUSTER_NAME } : {}),
      ...(env.WORKER_SERVICE_NAME ? { workerServiceName: env.WORKER_SERVICE_NAME } : {}),
    },
    createAwsClients({}),
    data,
  )
  return plane
}

export async function handler(): Promise<AutoStep> {
  const p = controlPlane()
  const policy = process.env.PACING_POLICY
    ? parsePacingPolicy(JSON.parse(process.env.PACING_POLICY), 'PACING_POLICY')
    : DEFAULT_PACING_POLICY
  const { step } = await autoStep(p, policy, await initialState(p), { dryRun: false, actor: 'pacer' })
  logger.info('pacer step', { ...step })
  return step
}
