import { postgres, redis } from './data'
import { vpc } from './network'
import { dialTasks } from './queue'
import { workerToken } from './secrets'
import {
  DEFAULT_MAX_CPS,
  DIAL_HTTP_TIMEOUT_SECONDS,
  DIALER_TIMEOUT_SECONDS,
  DISPATCHER_TIMEOUT_SECONDS,
  CONTROL_TIMEOUT_SECONDS,
  ENRICH_TIMEOUT_SECONDS,
  MAX_RECEIVE_COUNT,
  metricNamespace,
  PACER_SCHEDULE,
  PACER_TIMEOUT_SECONDS,
  SERVICE,
  TIME_ZONE_DATA,
  traceSampleRate,
  UPLOAD_PREFIX,
} from './settings'
import { uploads } from './uploads'
import { cluster, workerService, workerUrl } from './worker'

/**
 * The Lambdas. Each is linked to exactly the resources its code uses: stores and secrets reach
 * the code as parts through the links (`Resource.X`, src/lambda/links.ts) — never a URL spliced
 * from a generated password, never a secret in a plain environment variable. `environment` holds
 * only plain settings.
 */

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
  ...common(SERVICE.enrich),
  handler: 'functions/enrich-dial-task.handler',
  timeout: `${ENRICH_TIMEOUT_SECONDS} seconds`,
  memory: '512 MB',
  link: [postgres],
})

export const dialer = new sst.aws.Function('DialerWorker', {
  ...withEnv(common(SERVICE.dialer), {
    // The default only: the live limit is stage state (`dialctl cps set`), read every batch.
    MAX_CPS: String(DEFAULT_MAX_CPS),
    WORKER_URL: workerUrl,
    WORKER_TIMEOUT_MS: String(DIAL_HTTP_TIMEOUT_SECONDS * 1000),
    // Rate-limited tasks are deferred: re-sent here with DelaySeconds = their next slot (h2, #12).
    DIAL_TASKS_QUEUE_URL: dialTasks.url,
    // SQS moves a task to the DLQ unseen: the dialer warns when it retries a task's last receive.
    MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
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
    QUEUE_URL: dialTasks.url,
    // The dispatcher claims no more contacts than the live limit can dial (Redis via the link).
    MAX_CPS: String(DEFAULT_MAX_CPS),
    // X-Ray cost: the share of tasks traced (docs/tracing.md); DIALCTL_TRACE_SAMPLE_RATE at deploy
    TRACE_SAMPLE_RATE: traceSampleRate(),
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

/**
 * The control API (functions/control.ts): dialctl's data calls for an operator who has AWS
 * credentials and nothing else. In the VPC next to the stores; no URL, no API Gateway — callers
 * need `lambda:InvokeFunction` on this one function (docs/deploy.md, on-call IAM). Its own role
 * may reach the stores (network + links) and nothing in AWS beyond its logs and traces.
 */
export const control = new sst.aws.Function('Control', {
  ...withEnv(common(SERVICE.control), {
    MAX_CPS: String(DEFAULT_MAX_CPS),
    // large contacts files the CLI uploaded (stacks/uploads.ts)
    UPLOAD_BUCKET: uploads.bucket,
  }),
  handler: 'functions/control.handler',
  // contacts import derives callee zones from libphonenumber's data file (src/campaigns/callee-zones.ts)
  copyFiles: [{ from: TIME_ZONE_DATA.package, to: TIME_ZONE_DATA.bundled }],
  timeout: `${CONTROL_TIMEOUT_SECONDS} seconds`,
  memory: '512 MB',
  link: [redis, postgres],
  // Read the uploaded contacts files, nothing else: not the bucket, not other prefixes, no list.
  permissions: [
    XRAY_WRITE,
    { actions: ['s3:GetObject'], resources: [$interpolate`${uploads.arn}/${UPLOAD_PREFIX}*`] },
  ],
})
