import os from 'node:os'
import { Redis } from 'ioredis'
import { createPool } from '../db/pool.js'
import { cpsFromEnv, DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import type { AwsClients, AwsResources } from './aws.js'
import { DataPlane } from './data.js'
import { runningLocalStack } from '../local-stack/stack-file.js'
import { DEFAULT_WORKER_URL, LocalControlPlane } from './local.js'
import { OperatorError } from '../errors.js'
import { loadStageOutputs, type StageOutputs } from './stage-outputs.js'
import type { ControlPlane, DataPort } from './port.js'

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

function dataPlane(urls: { databaseUrl?: string; redisUrl?: string; defaultLimit?: number }): DataPlane {
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
    // Redis may be embedded on private ports); else the default local servers.
    const running = runningLocalStack()
    return new LocalControlPlane(
      dataPlane({
        ...(!process.env.DATABASE_URL && running ? { databaseUrl: running.databaseUrl } : {}),
        ...(!process.env.REDIS_URL && running ? { redisUrl: running.redisUrl } : {}),
        ...(running?.maxCps ? { defaultLimit: running.maxCps } : {}),
      }),
      process.env.DIALCTL_WORKER_URL ?? running?.workerUrl ?? DEFAULT_WORKER_URL,
      process.env.DIALCTL_PIPE_NAME ?? running?.pipeName,
    )
  }
  // Loaded only for AWS stages: the SDK clients are most of the CLI's start-up time.
  const { AwsControlPlane, createAwsClients } = await import('./aws.js')
  const clients = createAwsClients(flags)
  await requireRegion(clients.ssm, flags)
  const outputs = await loadStageOutputs(flags.stage, {
    ssm: clients.ssm,
    ...(flags.region ? { region: flags.region } : {}),
  })
  const resources: AwsResources = {
    pipeName: outputs.pipeName,
    queueUrl: outputs.queueUrl,
    queueArn: outputs.queueArn,
    dlqUrl: outputs.dlqUrl,
    dlqArn: outputs.dlqArn,
    ...(outputs.workerClusterName ? { workerClusterName: outputs.workerClusterName } : {}),
    ...(outputs.workerServiceName ? { workerServiceName: outputs.workerServiceName } : {}),
    ...(outputs.alarmPrefix ? { alarmPrefix: outputs.alarmPrefix } : {}),
  }
  return new AwsControlPlane(flags.stage, resources, clients, await awsDataPort(outputs, clients))
}

/**
 * The stage's data layer. By default through its control Lambda (AWS credentials are all it
 * takes). DATABASE_URL / REDIS_URL (a tunnel or a bastion into the VPC) reach the stores directly
 * instead — the way for a stage deployed before the control function existed.
 */
async function awsDataPort(
  outputs: StageOutputs,
  clients: Pick<AwsClients, 'lambda' | 'sts'>,
): Promise<DataPort> {
  if (process.env.DATABASE_URL || process.env.REDIS_URL) {
    return dataPlane({
      databaseUrl:
        process.env.DATABASE_URL ??
        `postgres://${encodeURIComponent(process.env.PGUSER ?? 'postgres')}@${outputs.postgresHost}:${outputs.postgresPort}/${outputs.postgresDatabase}`,
      redisUrl: process.env.REDIS_URL ?? `rediss://${outputs.redisHost}:${outputs.redisPort}`,
    })
  }
  if (!outputs.controlFunctionName)
    throw new OperatorError(
      `Stage "${outputs.stage}" has no control function (deployed by a dialctl older than it).`,
      'Whoever deploys this stage should redeploy it; until then set DATABASE_URL and REDIS_URL to reach its stores through a tunnel.',
      1,
      'NO_CONTROL_FUNCTION',
    )
  const { LambdaDataPort } = await import('./aws-control-client.js')
  return new LambdaDataPort(clients.lambda, clients.sts, outputs.controlFunctionName)
}

/** The SDK's "Region is missing" names no flag; this does. */
async function requireRegion(ssm: AwsClients['ssm'], flags: StageFlags): Promise<void> {
  try {
    await ssm.config.region()
  } catch {
    throw new OperatorError(
      `No AWS region for stage "${flags.stage}".`,
      'Pass --region (e.g. --region eu-west-1), set AWS_REGION, or use a --profile that has a region.',
      1,
      'AWS_REGION',
    )
  }
}
