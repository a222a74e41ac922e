import { DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch'
import { AwsMetric, customMetric, MetricName, type MetricId } from '../observability/metrics.js'
import type { Alarm, ControllerInputs, DataPort } from './port.js'

/** ECS cluster/service of the worker fleet, for its CPU; absent = no CPU input */
export interface WorkerServiceNames {
  workerClusterName?: string
  workerServiceName?: string
}

/** A GetMetricData query for a registry metric (src/observability/metrics.ts). */
export function metricQuery(
  Id: string,
  metric: MetricId,
  periodSeconds: number,
  Stat: string,
): MetricDataQuery {
  return {
    Id,
    MetricStat: {
      Metric: {
        Namespace: metric.namespace,
        MetricName: metric.name,
        Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: periodSeconds,
      Stat,
    },
  }
}

/** Latest value of each query over the last `minutes` (CloudWatch returns newest first). */
export async function latestMetricValues(
  cloudwatch: CloudWatchClient,
  queries: MetricDataQuery[],
  minutes: number,
  now: Date,
): Promise<Record<string, number>> {
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      MetricDataQueries: queries,
      StartTime: new Date(now.getTime() - minutes * 60_000),
      EndTime: now,
      ScanBy: 'TimestampDescending',
    }),
  )
  const values: Record<string, number> = {}
  for (const r of out.MetricDataResults ?? []) {
    const v = r.Values?.[0]
    if (r.Id && v !== undefined) values[r.Id] = v
  }
  return values
}

/**
 * Whether a dialer ran degraded (Redis unreachable) in the last 2 minutes. The dialers cannot
 * write "I am degraded" to the Redis they cannot reach: they emit RedisDegradedMode instead.
 */
export async function dialerDegraded(
  cloudwatch: CloudWatchClient,
  stage: string,
  now: Date,
): Promise<boolean> {
  const values = await latestMetricValues(
    cloudwatch,
    [metricQuery('degraded', customMetric(stage, MetricName.RedisDegradedMode), 60, 'Sum')],
    2,
    now,
  )
  return (values.degraded ?? 0) > 0
}

/** Average CPU (0–100) of the worker fleet's ECS service over the last minutes; null without data. */
export async function workerCpu(
  cloudwatch: CloudWatchClient,
  service: { clusterName: string; serviceName: string },
  now: Date,
): Promise<number | null> {
  const metric: MetricId = {
    namespace: AwsMetric.ecs.namespace,
    name: AwsMetric.ecs.CPUUtilization,
    dimensions: { ClusterName: service.clusterName, ServiceName: service.serviceName },
  }
  const values = await latestMetricValues(cloudwatch, [metricQuery('cpu', metric, 60, 'Average')], 5, now)
  return values.cpu ?? null
}

/** Alarms in state ALARM whose name starts with `prefix` (the stage's), all pages. */
export async function alarmsFiring(cloudwatch: CloudWatchClient, prefix?: string): Promise<Alarm[]> {
  const alarms: Alarm[] = []
  let NextToken: string | undefined
  do {
    const out = await cloudwatch.send(
      new DescribeAlarmsCommand({
        StateValue: 'ALARM',
        ...(prefix ? { AlarmNamePrefix: prefix } : {}),
        ...(NextToken ? { NextToken } : {}),
      }),
    )
    for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
      alarms.push({
        name: a.AlarmName ?? '',
        state: a.StateValue ?? 'ALARM',
        ...(a.StateReason ? { reason: a.StateReason } : {}),
        ...(a.StateUpdatedTimestamp ? { updatedAt: new Date(a.StateUpdatedTimestamp).toISOString() } : {}),
      })
    }
    NextToken = out.NextToken
  } while (NextToken)
  return alarms
}

/** The ECS service whose CPU the controller reads, when the stage names one. */
export function workerServiceOf(
  resources: WorkerServiceNames,
): { clusterName: string; serviceName: string } | undefined {
  const { workerClusterName: clusterName, workerServiceName: serviceName } = resources
  return clusterName && serviceName ? { clusterName, serviceName } : undefined
}

/**
 * The controller's inputs on AWS: the worker fleet's CPU from CloudWatch, the answer rate from
 * the stage's PostgreSQL (the same query as on the local stack). Shared by the CLI adapter and
 * the pacer Lambda.
 */
export async function awsControllerInputs(
  cloudwatch: CloudWatchClient,
  resources: WorkerServiceNames,
  data: Pick<DataPort, 'answerRate'>,
  now: Date,
): Promise<ControllerInputs> {
  const service = workerServiceOf(resources)
  const [cpuPercent, answers] = await Promise.all([
    service ? workerCpu(cloudwatch, service, now) : Promise.resolve(null),
    data.answerRate(5),
  ])
  return { cpuPercent, ...answers, at: now.toISOString() }
}
