/** Metric names shared by the Lambdas (EMF), the local stack and the alarms. */
export const METRIC_NAMESPACE = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Dialctl'

export const MetricName = {
  CurrentCPS: 'CurrentCPS',
  RateLimitedTasks: 'RateLimitedTasks',
  DialedTasks: 'DialedTasks',
  DialerWorkerErrors: 'DialerWorkerErrors',
  EnrichLambdaErrors: 'EnrichLambdaErrors',
  EnrichDropped: 'EnrichDropped',
  RedisDegradedMode: 'RedisDegradedMode',
  DuplicateDials: 'DuplicateDials',
  /** the live limit the dialer applied (the CPS alarm compares CurrentCPS against it) */
  CpsLimit: 'CpsLimit',
} as const
export type MetricName = (typeof MetricName)[keyof typeof MetricName]
