import os from 'node:os'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { OperatorError } from '../cli/operator-error.js'
import { describeZodError } from '../contracts/errors.js'
import { createPool } from '../db/pool.js'
import { cpsFromEnv, DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import { AwsControlPlane, createAwsClients, type AwsResources } from './aws.js'
import { DataPlane } from './data.js'
import { DEFAULT_WORKER_URL, LocalControlPlane } from './local.js'
import { loadOptional } from './optional.js'
import type { ControlPlane } from './port.js'

export type { ControlPlane } from './port.js'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

export interface StageFlags {
  stage: string
  profile?: string
  region?: string
}

/** The resources dialctl needs from the SST outputs; checked, so a missing one is named. */
const StageResources = z.object({
  pipeName: z.string().min(1),
  queueUrl: z.string().min(1),
  queueArn: z.string().min(1),
  dlqUrl: z.string().min(1),
  dlqArn: z.string().min(1),
  dialerFunctionName: z.string().min(1),
  workerClusterName: z.string().optional(),
  workerServiceName: z.string().optional(),
  alarmPrefix: z.string().optional(),
  databaseUrl: z.string().optional(),
  redisUrl: z.string().optional(),
})

/** Who is acting, for the audit trails: DIALCTL_ACTOR, else user@host. */
export function currentActor(): string {
  if (process.env.DIALCTL_ACTOR) return process.env.DIALCTL_ACTOR
  let user = 'unknown'
  try {
    user = os.userInfo().username
  } catch {
    // containers without a passwd entry
  }
  return `${user}@${os.hostname()}`
}

function dataPlane(urls: { databaseUrl?: string; redisUrl?: string }): DataPlane {
  const redisUrl = urls.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL
  const pool = createPool({
    ...(urls.databaseUrl ? { connectionString: urls.databaseUrl } : {}),
    // A CLI run needs few connections; keep the stage's PostgreSQL for the pipeline.
    max: 4,
  })
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    // fail fast: an operator waiting on a dead Redis wants the error, not a spinner
    retryStrategy: (times) => (times > 2 ? null : 200),
  })
  redis.on('error', () => {})
  return new DataPlane({
    pool,
    redis,
    redisUrl: redisUrl.replace(/\/\/[^@/]*@/, '//***@'),
    redisPrefix: process.env.DIALCTL_REDIS_PREFIX ?? '',
    defaultLimit: cpsFromEnv('MAX_CPS', DEFAULT_MAX_CPS),
  })
}

/**
 * The control plane of `--stage`: "local" → the local stack (DATABASE_URL, REDIS_URL,
 * DIALCTL_WORKER_URL); any other name → that deployed SST stage, its resources read from the
 * stage outputs, AWS clients on the standard credential chain with --profile/--region.
 */
export async function controlPlaneFor(flags: StageFlags): Promise<ControlPlane> {
  if (flags.stage === 'local') {
    return new LocalControlPlane(dataPlane({}), process.env.DIALCTL_WORKER_URL ?? DEFAULT_WORKER_URL)
  }
  const outputsModule = await loadOptional<{
    loadStageOutputs: (stage: string, options?: { profile?: string; region?: string }) => Promise<unknown>
  }>('./stage-outputs.js', 'Reading the SST stage outputs')
  const outputs = await outputsModule.loadStageOutputs(flags.stage, {
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.region ? { region: flags.region } : {}),
  })
  const parsed = StageResources.safeParse(outputs)
  if (!parsed.success) {
    throw new OperatorError(
      `The outputs of stage "${flags.stage}" lack what dialctl needs: ${describeZodError(parsed.error)}.`,
      `Redeploy the stage (sst deploy --stage ${flags.stage}) so it exports these outputs.`,
      1,
      'STAGE_OUTPUTS',
    )
  }
  const r = parsed.data
  const resources: AwsResources = r
  return new AwsControlPlane(
    flags.stage,
    resources,
    createAwsClients(flags),
    dataPlane({
      ...(process.env.DATABASE_URL ? {} : r.databaseUrl ? { databaseUrl: r.databaseUrl } : {}),
      ...(process.env.REDIS_URL ? {} : r.redisUrl ? { redisUrl: r.redisUrl } : {}),
    }),
  )
}
