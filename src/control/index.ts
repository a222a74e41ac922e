import os from 'node:os'
import { Redis } from 'ioredis'
import { createPool } from '../db/pool.js'
import { cpsFromEnv, DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import type { AwsResources } from './aws.js'
import { DataPlane } from './data.js'
import { runningLocalStack } from '../local-stack/stack-file.js'
import { DEFAULT_WORKER_URL, LocalControlPlane } from './local.js'
import { loadStageOutputs } from './stage-outputs.js'
import type { ControlPlane } from './port.js'

export type { ControlPlane } from './port.js'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

export interface StageFlags {
  stage: string
  profile?: string
  region?: string
}

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

function dataPlane(urls: {
  databaseUrl?: string
  redisUrl?: string
  defaultLimit?: number
  schema?: string
  redisPrefix?: string
}): DataPlane {
  const redisUrl = urls.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL
  const pool = createPool({
    ...(urls.databaseUrl ? { connectionString: urls.databaseUrl } : {}),
    ...(urls.schema ? { schema: urls.schema } : {}),
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
    redisPrefix: urls.redisPrefix ?? process.env.DIALCTL_REDIS_PREFIX ?? '',
    defaultLimit: cpsFromEnv('MAX_CPS', urls.defaultLimit ?? DEFAULT_MAX_CPS),
  })
}

/**
 * The control plane of `--stage`: "local" → the local stack (DATABASE_URL, REDIS_URL,
 * DIALCTL_WORKER_URL); any other name → that deployed SST stage, its resources read from the
 * stage outputs, AWS clients on the standard credential chain with --profile/--region.
 */
export async function controlPlaneFor(flags: StageFlags): Promise<ControlPlane> {
  if (flags.stage === 'local') {
    // Environment first; else the endpoints a running `dialctl dev` announced (its PostgreSQL and
    // Redis may be embedded on private ports, its data in a schema and key prefix of its own:
    // a second terminal without the same exports must act on the same data); else the defaults.
    const running = runningLocalStack()
    return new LocalControlPlane(
      dataPlane({
        ...(!process.env.DATABASE_URL && running ? { databaseUrl: running.databaseUrl } : {}),
        ...(!process.env.REDIS_URL && running ? { redisUrl: running.redisUrl } : {}),
        ...(!process.env.DATABASE_SCHEMA && running?.schema ? { schema: running.schema } : {}),
        ...(process.env.DIALCTL_REDIS_PREFIX === undefined && running?.redisPrefix !== undefined
          ? { redisPrefix: running.redisPrefix }
          : {}),
        ...(running?.maxCps ? { defaultLimit: running.maxCps } : {}),
      }),
      process.env.DIALCTL_WORKER_URL ?? running?.workerUrl ?? DEFAULT_WORKER_URL,
      process.env.DIALCTL_PIPE_NAME ?? running?.pipeName,
    )
  }
  const outputs = await loadStageOutputs(flags.stage, {
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.region ? { region: flags.region } : {}),
  })
  const resources: AwsResources = {
    pipeName: outputs.pipeName,
    queueUrl: outputs.queueUrl,
    queueArn: outputs.queueArn,
    dlqUrl: outputs.dlqUrl,
    dlqArn: outputs.dlqArn,
    dialerFunctionName: outputs.dialerFunctionName,
    ...(outputs.workerClusterName ? { workerClusterName: outputs.workerClusterName } : {}),
    ...(outputs.workerServiceName ? { workerServiceName: outputs.workerServiceName } : {}),
    ...(outputs.alarmPrefix ? { alarmPrefix: outputs.alarmPrefix } : {}),
  }
  // The stores sit in the stage's VPC: reachable through a tunnel or from a bastion. DATABASE_URL /
  // REDIS_URL win (credentials never come from the outputs); else the endpoints from the outputs,
  // with PGUSER/PGPASSWORD from the environment and TLS for Redis (SST's default).
  // Loaded only for AWS stages: the SDK clients are most of the CLI's start-up time.
  const { AwsControlPlane, createAwsClients } = await import('./aws.js')
  const scheme = process.env.DIALCTL_REDIS_TLS === '0' ? 'redis' : 'rediss'
  const plane = new AwsControlPlane(
    flags.stage,
    resources,
    createAwsClients(flags),
    dataPlane({
      databaseUrl:
        process.env.DATABASE_URL ??
        `postgres://${encodeURIComponent(process.env.PGUSER ?? 'postgres')}@${outputs.postgresHost}:${outputs.postgresPort}/${outputs.postgresDatabase}`,
      redisUrl: process.env.REDIS_URL ?? `${scheme}://${outputs.redisHost}:${outputs.redisPort}`,
    }),
  )
  return plane
}
