import { AwsMetric, customMetric, isWarningAlarm, MetricName } from '../src/observability/metrics'
import { dialer, enrich } from './functions'
import { campaignStateMachine } from './dispatcher'
import { pipe } from './pipe'
import { deadLetterQueue } from './queue'
import { ALARM, DEFAULT_MAX_CPS, metricNamespace } from './settings'

/**
 * The seed's monitoring table as alarms (→ SNS for on-call) and one dashboard.
 * Rates are metric math over sums, so a quiet minute (0 of 0) never alarms.
 */

export const alarmPrefix = `${$app.name}-${$app.stage}-`
const namespace = metricNamespace($app.stage)

export const alertsTopic = new sst.aws.SnsTopic('Alerts')

/** ONCALL_EMAIL at deploy time subscribes that address (AWS sends a confirmation mail). */
const oncallEmail = process.env.ONCALL_EMAIL
if (oncallEmail)
  new aws.sns.TopicSubscription('AlertsOncallEmail', {
    topic: alertsTopic.arn,
    protocol: 'email',
    endpoint: oncallEmail,
  })

type Query = aws.types.input.cloudwatch.MetricAlarmMetricQuery

function metric(
  id: string,
  ns: $util.Input<string>,
  name: string,
  dimensions: Record<string, $util.Input<string>>,
  stat: string,
): Query {
  return {
    id,
    returnData: false,
    metric: { namespace: ns, metricName: name, dimensions, period: ALARM.periodSeconds, stat },
  }
}

/** A custom metric exactly as its emitter publishes it (namespace and dimensions from the registry). */
function custom(id: string, name: MetricName, stat: string): Query {
  const m = customMetric($app.stage, name)
  return metric(id, m.namespace, m.name, m.dimensions, stat)
}

function expression(id: string, expr: string, label: string): Query {
  return { id, expression: expr, label, returnData: true }
}

interface AlarmSpec {
  key: string
  description: string
  threshold: number
  queries: Query[]
  /** one bad minute is enough (e.g. Redis down) */
  immediate?: boolean
}

function alarm(spec: AlarmSpec): aws.cloudwatch.MetricAlarm {
  return new aws.cloudwatch.MetricAlarm(`Alarm${spec.key}`, {
    name: `${alarmPrefix}${spec.key}`,
    alarmDescription: spec.description,
    comparisonOperator: 'GreaterThanThreshold',
    threshold: spec.threshold,
    evaluationPeriods: spec.immediate ? 1 : ALARM.evaluationPeriods,
    datapointsToAlarm: spec.immediate ? 1 : ALARM.datapointsToAlarm,
    treatMissingData: 'notBreaching',
    metricQueries: spec.queries,
    // a warning (WARNING_ALARM_KEYS) shows on the dashboard and in doctor, and never pages
    alarmActions: isWarningAlarm(`-${spec.key}`) ? [] : [alertsTopic.arn],
    okActions: isWarningAlarm(`-${spec.key}`) ? [] : [alertsTopic.arn],
  })
}

function lambdaErrorRate(fnName: $util.Input<string>): Query[] {
  return [
    metric('errors', 'AWS/Lambda', 'Errors', { FunctionName: fnName }, 'Sum'),
    metric('invocations', 'AWS/Lambda', 'Invocations', { FunctionName: fnName }, 'Sum'),
    expression('rate', 'IF(invocations > 0, 100 * errors / invocations, 0)', 'error %'),
  ]
}

/** Deferred % of a minute that dialed below stallAdmitShare of the limit (per second); else 0. */
export const RATE_LIMITED_STALLED = `IF(limited + dialed > 0 AND dialed / PERIOD(dialed) < ${ALARM.stallAdmitShare} * FILL(limit, ${DEFAULT_MAX_CPS}), 100 * limited / (limited + dialed), 0)`

const pipeDims = { [AwsMetric.pipes.dimension]: pipe.name }

export const alarms = {
  pipeFailed: alarm({
    key: 'PipeFailedPercent',
    description: `Pipe executions failing > ${ALARM.pipeFailedPercent}%: check the dialer/enrich logs and the pipe's log group`,
    threshold: ALARM.pipeFailedPercent,
    queries: [
      metric('failed', AwsMetric.pipes.namespace, AwsMetric.pipes.ExecutionFailed, pipeDims, 'Sum'),
      metric('invocations', AwsMetric.pipes.namespace, AwsMetric.pipes.Invocations, pipeDims, 'Sum'),
      expression('rate', 'IF(invocations > 0, 100 * failed / invocations, 0)', 'failed %'),
    ],
  }),
  pipeThrottled: alarm({
    key: 'PipeThrottled',
    description: `Pipe executions throttled > ${ALARM.pipeThrottledCount}/min: Lambda concurrency or account limits`,
    threshold: ALARM.pipeThrottledCount,
    queries: [
      {
        ...metric(
          'throttled',
          AwsMetric.pipes.namespace,
          AwsMetric.pipes.ExecutionThrottled,
          pipeDims,
          'Sum',
        ),
        returnData: true,
      },
    ],
  }),
  enrichErrors: alarm({
    key: 'EnrichErrorPercent',
    description: `Enrich Lambda errors > ${ALARM.enrichErrorPercent}%: check PostgreSQL connectivity and the enrich logs`,
    threshold: ALARM.enrichErrorPercent,
    queries: lambdaErrorRate(enrich.name),
  }),
  dialerErrors: alarm({
    key: 'DialerErrorPercent',
    description: `Dialer Lambda errors > ${ALARM.dialerErrorPercent}%: check the worker, Redis and the dialer logs`,
    threshold: ALARM.dialerErrorPercent,
    queries: lambdaErrorRate(dialer.name),
  }),
  cpsNearLimit: alarm({
    key: 'CpsNearLimit',
    description: `Warning (never pages, never red): CurrentCPS above ${ALARM.cpsOfLimitPercent}% of the live limit (${MetricName.CpsLimit}, published by the dialer every batch; MAX_CPS ${DEFAULT_MAX_CPS} in a minute without batches)`,
    threshold: ALARM.cpsOfLimitPercent,
    queries: [
      custom('cps', MetricName.CurrentCPS, 'Maximum'),
      custom('limit', MetricName.CpsLimit, 'Minimum'),
      expression('rate', `100 * cps / FILL(limit, ${DEFAULT_MAX_CPS})`, 'CPS % of limit'),
    ],
  }),
  rateLimited: alarm({
    key: 'RateLimitedPercent',
    description: `More than ${ALARM.rateLimitedPercent}% of tasks rate-limited while dialing below ${100 * ALARM.stallAdmitShare}% of the limit (stalled, as doctor judges it): dialctl doctor`,
    threshold: ALARM.rateLimitedPercent,
    // Deferral at the limit is pacing, not failure (docs/health.md): a minute counts only when it
    // dialed below stallAdmitShare of the live limit (CpsLimit; MAX_CPS when not published).
    queries: [
      custom('limited', MetricName.RateLimitedTasks, 'Sum'),
      custom('dialed', MetricName.DialedTasks, 'Sum'),
      custom('limit', MetricName.CpsLimit, 'Minimum'),
      expression('rate', RATE_LIMITED_STALLED, 'rate-limited % while stalled'),
    ],
  }),
  redisDegraded: alarm({
    key: 'RedisDegraded',
    description: 'A dialer ran without Redis (conservative local limit): check the Redis cluster and the VPC',
    threshold: ALARM.redisDegradedCount,
    immediate: true,
    queries: [{ ...custom('degraded', MetricName.RedisDegradedMode, 'Sum'), returnData: true }],
  }),
  dlqNotEmpty: alarm({
    key: 'DlqNotEmpty',
    description: 'Dial tasks reached the DLQ: inspect with `dialctl dlq list`, then `dialctl dlq redrive`',
    threshold: 0,
    immediate: true,
    queries: [
      {
        ...metric(
          'visible',
          'AWS/SQS',
          'ApproximateNumberOfMessagesVisible',
          { QueueName: deadLetterQueue.nodes.queue.name },
          'Maximum',
        ),
        returnData: true,
      },
    ],
  }),
  campaignExecutionFailed: alarm({
    key: 'CampaignExecutionFailed',
    description: 'A campaign state machine execution failed: its campaign stopped dispatching',
    threshold: 0,
    immediate: true,
    queries: [
      {
        ...metric(
          'failed',
          'AWS/States',
          'ExecutionsFailed',
          { StateMachineArn: campaignStateMachine.arn },
          'Sum',
        ),
        returnData: true,
      },
    ],
  }),
}

const region = aws.getRegionOutput({}).region

export const dashboard = new aws.cloudwatch.Dashboard('Dashboard', {
  dashboardName: `${$app.name}-${$app.stage}`,
  dashboardBody: $resolve([
    region,
    pipe.name,
    enrich.name,
    dialer.name,
    ...Object.values(alarms).map((a) => a.arn),
  ]).apply(([reg, pipeName, enrichName, dialerName, ...alarmArns]) => {
    const widget = (title: string, metrics: unknown[], x: number, y: number) => ({
      type: 'metric',
      x,
      y,
      width: 12,
      height: 6,
      properties: { title, region: reg, stat: 'Sum', period: 60, view: 'timeSeries', metrics },
    })
    const d = Object.entries(customMetric($app.stage, MetricName.CurrentCPS).dimensions).flat()
    return JSON.stringify({
      widgets: [
        {
          type: 'alarm',
          x: 0,
          y: 0,
          width: 24,
          height: 3,
          properties: { title: 'Alarms', alarms: alarmArns },
        },
        widget(
          'Pipe executions',
          [
            [AwsMetric.pipes.namespace, AwsMetric.pipes.Invocations, AwsMetric.pipes.dimension, pipeName],
            ['.', AwsMetric.pipes.ExecutionFailed, '.', '.'],
            ['.', AwsMetric.pipes.ExecutionPartiallyFailed, '.', '.'],
            ['.', AwsMetric.pipes.ExecutionThrottled, '.', '.'],
          ],
          0,
          3,
        ),
        widget(
          'Calls per second',
          [
            [namespace, MetricName.CurrentCPS, ...d, { stat: 'Maximum' }],
            ['.', MetricName.CpsLimit, ...d, { stat: 'Minimum' }],
          ],
          12,
          3,
        ),
        widget(
          'Dialed vs rate-limited',
          [
            [namespace, MetricName.DialedTasks, ...d],
            ['.', MetricName.RateLimitedTasks, ...d],
            ['.', MetricName.RedisDegradedMode, ...d],
          ],
          0,
          9,
        ),
        widget(
          'Lambda errors',
          [
            ['AWS/Lambda', 'Errors', 'FunctionName', enrichName, { label: 'enrich' }],
            ['.', '.', '.', dialerName, { label: 'dialer' }],
            ['.', 'Throttles', '.', dialerName, { label: 'dialer throttles' }],
          ],
          12,
          9,
        ),
      ],
    })
  }),
})
