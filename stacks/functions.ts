import { postgres, redis } from './data'
import { vpc } from './network'
import { dialTasks } from './queue'
import { workerToken } from './secrets'
import {
  DEFAULT_MAX_CPS,
  DIAL_HTTP_TIMEOUT_SECONDS,
  DIALER_TIMEOUT_SECONDS,
  DISPATCHER_TIMEOUT_SECONDS,
  ENRICH_TIMEOUT_SECONDS,
  metricNamespace,
  PACER_SCHEDULE,
  PACER_TIMEOUT_SECONDS,
  SERVICE,
} from './settings'
import { cluster, workerService, workerUrl } from './worker'

/**
 * The four Lambdas. Each is linked to exactly the resources its code uses (read with
 * `Resource.X` from "sst"); the plain URLs in `environment` are for code that stays
 * framework-free (`src/` reads DATABASE_URL / REDIS_URL like the local stack does).
 */

export const databaseUrl = $interpolate`postgres://${postgres.username}:${postgres.password}@${postgres.host}:${postgres.port}/${postgres.database}`
/** ElastiCache has in-transit encryption on: `rediss://` (TLS) with the AUTH token as password. */
export const redisUrl = $interpolate`rediss://${redis.username}:${redis.password}@${redis.host}:${redis.port}`

/** X-Ray has no resource-level permissions. */
const XRAY_WRITE = { actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }

function common(service: string): Pick<
  sst.aws.FunctionArgs,
  'runtime' | 'architecture' | 'vpc' | 'nodejs' | 'transform' | 'logging'
> & {
  environment: Record<string, $util.Input<string>>
  permissions: sst.aws.FunctionPermissionArgs[]
} {
  return {
    runtime: 'nodejs20.x',
    architecture: 'arm64',
    // In the VPC: PostgreSQL and Redis are only reachable from inside it.
    vpc,
    // pg loads optional native bindings at runtime; esbuild must not try to bundle it.
    nodejs: { install: ['pg'] },
    logging: { format: 'json', retention: '1 month' },
    environment: {
      POWERTOOLS_SERVICE_NAME: service,
      POWERTOOLS_METRICS_NAMESPACE: metricNamespace($app.stage),
      DIALCTL_STAGE: $app.stage,
    },
    // X-Ray: the seed's trace EventBridge Pipe → enrich → PostgreSQL, dialer → Redis → worker.
    permissions: [XRAY_WRITE],
    transform: {
      function: (args) => {
        args.tracingConfig = { mode: 'Active' }
      },
    },
  }
}

function withEnv(
  base: ReturnType<typeof common>,
  env: Record<string, $util.Input<string>>,
): ReturnType<typeof common> {
  return { ...base, environment: { ...base.environment, ...env } }
}

export const enrich = new sst.aws.Function('EnrichDialTask', {
  ...withEnv(common(SERVICE.enrich), { DATABASE_URL: databaseUrl }),
  handler: 'functions/enrich-dial-task.handler',
  timeout: `${ENRICH_TIMEOUT_SECONDS} seconds`,
  memory: '512 MB',
  link: [postgres],
})

export const dialer = new sst.aws.Function('DialerWorker', {
  ...withEnv(common(SERVICE.dialer), {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    // The default only: the live limit is in Redis (`dialctl cps set`), read every batch.
    MAX_CPS: String(DEFAULT_MAX_CPS),
    WORKER_URL: workerUrl,
    // src/dialer/create-dialer.ts reads the token from the env (also linked for `Resource`).
    WORKER_TOKEN: workerToken.value,
    WORKER_TIMEOUT_MS: String(DIAL_HTTP_TIMEOUT_SECONDS * 1000),
    // Rate-limited tasks are deferred: re-sent here with DelaySeconds = their next slot (h2, #12).
    DIAL_TASKS_QUEUE_URL: dialTasks.url,
  }),
  handler: 'functions/dialer-worker.handler',
  timeout: `${DIALER_TIMEOUT_SECONDS} seconds`,
  memory: '512 MB',
  link: [redis, postgres, workerToken, workerService],
  // Send only (SendMessageBatch is authorised by sqs:SendMessage); the pipe deletes the received copy.
  permissions: [XRAY_WRITE, { actions: ['sqs:SendMessage'], resources: [dialTasks.arn] }],
})

export const dispatcher = new sst.aws.Function('Dispatcher', {
  ...withEnv(common(SERVICE.dispatcher), {
    DATABASE_URL: databaseUrl,
    QUEUE_URL: dialTasks.url,
    // The dispatcher claims no more contacts than the live limit can dial (src/dispatch/env.ts).
    REDIS_URL: redisUrl,
    MAX_CPS: String(DEFAULT_MAX_CPS),
  }),
  handler: 'functions/dispatcher.handler',
  timeout: `${DISPATCHER_TIMEOUT_SECONDS} seconds`,
  memory: '512 MB',
  link: [postgres, redis],
  // Not linked: SST's queue link grants sqs:* — the dispatcher only ever sends.
  permissions: [
    XRAY_WRITE,
    { actions: ['sqs:SendMessage', 'sqs:SendMessageBatch'], resources: [dialTasks.arn] },
  ],
})

export const pacer = new sst.aws.Function('Pacer', {
  ...withEnv(common(SERVICE.pacer), {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    MAX_CPS: String(DEFAULT_MAX_CPS),
    // The controller's CPU input: AWS/ECS CPUUtilization of the worker service.
    WORKER_CLUSTER_NAME: cluster.nodes.cluster.name,
    WORKER_SERVICE_NAME: workerService.nodes.service.name,
  }),
  handler: 'functions/pacer.handler',
  timeout: `${PACER_TIMEOUT_SECONDS} seconds`,
  memory: '256 MB',
  link: [redis, postgres],
  permissions: [
    XRAY_WRITE,
    // The controller's inputs: the worker fleet's CPU and the stage's custom metrics.
    // GetMetricData has no resource-level permissions in IAM.
    { actions: ['cloudwatch:GetMetricData'], resources: ['*'] },
  ],
})

/** The adaptive controller every minute (DESIGN: "a scheduled `pacer` Lambda"). */
export const pacerSchedule = new sst.aws.Cron('PacerSchedule', {
  schedule: PACER_SCHEDULE,
  function: pacer.arn,
})
