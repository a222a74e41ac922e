/**
 * The one registry of metric names, namespaces and dimensions. Every emitter (the Lambdas through
 * Powertools Metrics / EMF), every reader (dialctl's AWS adapter, the pacer) and every alarm and
 * dashboard widget (stacks/monitoring.ts) takes its names from here, so a metric cannot be read
 * or alarmed on under a name or dimension nothing emits (issue #13: `ExecutionStarted`, the
 * namespace `Dialctl` vs `Dialctl/<stage>`, an unemitted `CpsLimit`).
 * test/unit/metric-registry.test.ts checks each name read or alarmed on against what the
 * emitters really emit.
 */

/** Custom metrics go to one namespace per stage, so two stages in one account never mix. */
export function metricNamespace(stage: string): string {
  return `Dialctl/${stage}`
}

/**
 * Service names: each Lambda's Powertools `serviceName`, which Powertools Metrics adds to every
 * custom metric as the `service` dimension (and the logger's `service` key).
 */
export const SERVICE = {
  control: 'control',
  dialer: 'dialer-worker',
  dispatcher: 'dispatcher',
  enrich: 'enrich-dial-task',
  pacer: 'pacer',
  worker: 'worker',
} as const
export type Service = (typeof SERVICE)[keyof typeof SERVICE]

export const MetricName = {
  CurrentCPS: 'CurrentCPS',
  RateLimitedTasks: 'RateLimitedTasks',
  DialedTasks: 'DialedTasks',
  DialerWorkerErrors: 'DialerWorkerErrors',
  EnrichLambdaErrors: 'EnrichLambdaErrors',
  EnrichDropped: 'EnrichDropped',
  RedisDegradedMode: 'RedisDegradedMode',
  DuplicateDials: 'DuplicateDials',
  /**
   * tasks deferred because the worker answered 429 (at capacity) or 503 draining: a state of the
   * worker, so no receive is spent and nothing reaches the DLQ — `status` and `doctor` read this
   * to tell a worker refusing every dial (docs/health.md)
   */
  WorkerDeferrals: 'WorkerDeferrals',
  /** the live limit the dialer applied in the batch (the CPS alarm compares CurrentCPS against it) */
  CpsLimit: 'CpsLimit',
} as const
export type MetricName = (typeof MetricName)[keyof typeof MetricName]

/** Which service emits each custom metric: its `service` dimension. */
export const METRIC_EMITTER: Record<MetricName, Service> = {
  CpsLimit: SERVICE.dialer,
  CurrentCPS: SERVICE.dialer,
  DialedTasks: SERVICE.dialer,
  DialerWorkerErrors: SERVICE.dialer,
  DuplicateDials: SERVICE.dialer,
  EnrichDropped: SERVICE.enrich,
  EnrichLambdaErrors: SERVICE.enrich,
  RateLimitedTasks: SERVICE.dialer,
  RedisDegradedMode: SERVICE.dialer,
  WorkerDeferrals: SERVICE.dialer,
}

export interface MetricId {
  namespace: string
  name: string
  /** exactly the dimensions the emitter attaches, by name */
  dimensions: Record<string, string>
}

/** A custom metric as the emitter publishes it on `stage`: namespace, name and `service` dimension. */
/**
 * Alarms that warn and never page or turn `status`/`doctor` red: CurrentCPS near the limit is the
 * seed's "> 90 (warning)", and a backlog paced at the limit is healthy (docs/health.md).
 * Matched against the end of the alarm's name (`<app>-<stage>-<key>`).
 */
export const WARNING_ALARM_KEYS = ['CpsNearLimit'] as const
export const isWarningAlarm = (name: string): boolean =>
  WARNING_ALARM_KEYS.some((key) => name.endsWith(`-${key}`))

export function customMetric(stage: string, name: MetricName): MetricId {
  return { namespace: metricNamespace(stage), name, dimensions: { service: METRIC_EMITTER[name] } }
}

/**
 * AWS-owned metrics dialctl reads or alarms on, by their documented names.
 * Pipes: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-monitoring.html —
 * there is no `ExecutionStarted`; `Invocations` counts executions.
 */
export const AwsMetric = {
  pipes: {
    namespace: 'AWS/EventBridge/Pipes',
    dimension: 'PipeName',
    Invocations: 'Invocations',
    ExecutionFailed: 'ExecutionFailed',
    ExecutionPartiallyFailed: 'ExecutionPartiallyFailed',
    ExecutionThrottled: 'ExecutionThrottled',
  },
  lambda: {
    namespace: 'AWS/Lambda',
    dimension: 'FunctionName',
    Errors: 'Errors',
    Invocations: 'Invocations',
    Throttles: 'Throttles',
  },
  sqs: {
    namespace: 'AWS/SQS',
    dimension: 'QueueName',
    ApproximateAgeOfOldestMessage: 'ApproximateAgeOfOldestMessage',
    ApproximateNumberOfMessagesVisible: 'ApproximateNumberOfMessagesVisible',
  },
  ecs: { namespace: 'AWS/ECS', CPUUtilization: 'CPUUtilization' },
  states: { namespace: 'AWS/States', dimension: 'StateMachineArn', ExecutionsFailed: 'ExecutionsFailed' },
} as const
