import os from 'node:os'
import { createPool, parseDatabaseUrl, pgSettingsFromEnv, type PgSettings } from '../db/pool.js'
import {
  createRedisClient,
  describeRedis,
  parseRedisUrl,
  redisSettingsFromEnv,
  type RedisSettings,
} from '../stores/redis.js'
import { cpsFromEnv, DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import type { AwsClients, AwsResources } from './aws.js'
import { DataPlane } from './data.js'
import { runningLocalStack, stackDatabase } from '../local-stack/stack-file.js'
import { DEFAULT_WORKER_URL, LocalControlPlane } from './local.js'
import { OperatorError } from '../errors.js'
import type { StageOutputs } from './stage-outputs.js'
import type { ControlPlane, DataPort } from './port.js'
import type { S3ContactUploader } from './aws-upload.js'

export type { ControlPlane } from './port.js'

export { DEFAULT_REDIS_URL } from '../stores/redis.js'

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

function dataPlane(stores: {
  postgres: PgSettings
  redis: RedisSettings
  defaultLimit?: number
  /** the running stack's schema and key prefix (stack.json), when the environment names none */
  schema?: string
  redisPrefix?: string
}): DataPlane {
  const pool = createPool(stores.postgres, {
    ...(stores.schema ? { schema: stores.schema } : {}),
    // A CLI run needs few connections; keep the stage's PostgreSQL for the pipeline.
    max: 4,
    // An operator waiting on a silent PostgreSQL wants the error within seconds, not a spinner.
    connectTimeoutMs: 3000,
    // ...and once: a command's later queries fail with the same error instead of waiting again
    failFastMs: 10_000,
  })
  // fail fast: the CLI role bounds connect, ready check and every command to seconds
  const redis = createRedisClient(stores.redis, { role: 'cli' })
  return new DataPlane({
    pool,
    redis,
    redisUrl: describeRedis(stores.redis),
    redisPrefix: stores.redisPrefix ?? process.env.DIALCTL_REDIS_PREFIX ?? '',
    defaultLimit: cpsFromEnv('MAX_CPS', stores.defaultLimit ?? DEFAULT_MAX_CPS),
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
    const running = await runningLocalStack()
    const database = stackDatabase(running)
    return new LocalControlPlane(
      dataPlane({
        postgres: database.databaseUrl
          ? parseDatabaseUrl(database.databaseUrl, 'the running dialctl dev')
          : pgSettingsFromEnv(),
        redis:
          !process.env.REDIS_URL && !process.env.REDIS_HOST && running
            ? parseRedisUrl(running.redisUrl, 'the running dialctl dev')
            : redisSettingsFromEnv(),
        ...(database.schema ? { schema: database.schema } : {}),
        ...(process.env.DIALCTL_REDIS_PREFIX === undefined && running?.redisPrefix !== undefined
          ? { redisPrefix: running.redisPrefix }
          : {}),
        ...(running?.maxCps ? { defaultLimit: running.maxCps } : {}),
      }),
      process.env.DIALCTL_WORKER_URL ?? running?.workerUrl ?? DEFAULT_WORKER_URL,
      process.env.DIALCTL_PIPE_NAME ?? running?.pipeName,
    )
  }
  // Loaded only for AWS stages: the SDK clients (SSM's alone ~85 ms) are most of the CLI's start-up time.
  const [{ AwsControlPlane, createAwsClients }, { loadStageOutputs }] = await Promise.all([
    import('./aws.js'),
    import('./stage-outputs.js'),
  ])
  const clients = createAwsClients(flags)
  await requireRegion(clients.ssm, flags)
  const outputs = await loadStageOutputs(flags.stage, {
    ssm: clients.ssm,
    ...(flags.region ? { region: flags.region } : {}),
  })
  const resources: AwsResources = {
    pipeName: outputs.pipeName,
    workerUrl: outputs.workerUrl,
    queueUrl: outputs.queueUrl,
    queueArn: outputs.queueArn,
    dlqUrl: outputs.dlqUrl,
    dlqArn: outputs.dlqArn,
    ...(outputs.workerClusterName ? { workerClusterName: outputs.workerClusterName } : {}),
    ...(outputs.workerServiceName ? { workerServiceName: outputs.workerServiceName } : {}),
    ...(outputs.alarmPrefix ? { alarmPrefix: outputs.alarmPrefix } : {}),
  }
  const data = await awsDataPort(outputs, clients)
  return new AwsControlPlane(
    flags.stage,
    resources,
    clients,
    data,
    undefined,
    await uploaderFor(data, outputs, clients),
  )
}

/** Large contacts files go through the stage bucket — when the data layer is the control function and the stage has one. */
async function uploaderFor(
  data: DataPort,
  outputs: StageOutputs,
  clients: Pick<AwsClients, 'sts'>,
): Promise<S3ContactUploader | undefined> {
  const { LambdaDataPort } = await import('./aws-control-client.js')
  if (!(data instanceof LambdaDataPort) || !outputs.uploadBucketName) return undefined
  const { S3ContactUploader } = await import('./aws-upload.js')
  return new S3ContactUploader(clients.sts, outputs.uploadBucketName, data)
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
  const direct = ['DATABASE_URL', 'PGHOST', 'REDIS_URL', 'REDIS_HOST'].some((v) => process.env[v])
  if (direct) {
    // PG*/REDIS_* parts or the URLs win (credentials never come from the outputs); else the
    // endpoints from the outputs as parts, PGUSER/PGPASSWORD and REDIS_USERNAME/REDIS_PASSWORD from
    // the environment, TLS for Redis (SST's default) — no URL is spliced from a secret.
    return dataPlane({
      postgres:
        process.env.DATABASE_URL || process.env.PGHOST
          ? pgSettingsFromEnv()
          : {
              host: outputs.postgresHost,
              port: Number(outputs.postgresPort),
              user: process.env.PGUSER ?? 'postgres',
              database: outputs.postgresDatabase,
              ssl: /^(1|true|yes|require)$/i.test(process.env.PGSSL ?? ''),
              ...(process.env.PGPASSWORD ? { password: process.env.PGPASSWORD } : {}),
            },
      redis:
        process.env.REDIS_URL || process.env.REDIS_HOST
          ? redisSettingsFromEnv()
          : {
              host: outputs.redisHost,
              port: Number(outputs.redisPort),
              tls: process.env.DIALCTL_REDIS_TLS !== '0',
              ...(process.env.REDIS_USERNAME ? { username: process.env.REDIS_USERNAME } : {}),
              ...(process.env.REDIS_PASSWORD ? { password: process.env.REDIS_PASSWORD } : {}),
            },
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
  return new LambdaDataPort(clients.lambda, clients.sts, outputs.controlFunctionName, outputs.stage)
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
