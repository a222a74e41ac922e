import { MetricName } from '../src/observability/metrics'
import { dialer, enrich } from './functions'
import { campaignStateMachine } from './dispatcher'
import { pipe } from './pipe'
import { deadLetterQueue } from './queue'
import { ALARM, DEFAULT_MAX_CPS, metricNamespace, SERVICE } from './settings'

/**
 * The seed's monitoring table as alarms (→ SNS for on-call) and one dashboard.
 * Rates are metric math over sums, so a quiet minute (0 of 0) never alarms.
 */

export const alarmPrefix = `${$app.name}-${$app.stage}-`
const namespace = metricNamespace($app.stage)
/** Powertools Metrics tags every custom metric with the `service` dimension. */
const dialerDims = { service: SERVICE.dialer }

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
    alarmActions: [alertsTopic.arn],
    okActions: [alertsTopic.arn],
  })
}

function lambdaErrorRate(fnName: $util.Input<string>): Query[] {
  return [
    metric('errors', 'AWS/Lambda', 'Errors', { FunctionName: fnName }, 'Sum'),
    metric('invocations', 'AWS/Lambda', 'Invocations', { FunctionName: fnName }, 'Sum'),
    expression('rate', 'IF(invocations > 0, 100 * errors / invocations, 0)', 'error %'),
  ]
}

const pipeDims = { PipeName: pipe.name }

export const alarms = {
  pipeFailed: alarm({
    key: 'PipeFailedPercent',
    description: `Pipe executions failing > ${ALARM.pipeFailedPercent}%: check the dialer/enrich logs and the pipe's log group`,
    threshold: ALARM.pipeFailedPercent,
    queries: [
      metric('failed', 'AWS/EventBridge/Pipes', 'ExecutionFailed', pipeDims, 'Sum'),
      metric('invocations', 'AWS/EventBridge/Pipes', 'Invocations', pipeDims, 'Sum'),
      expression('rate', 'IF(invocations > 0, 100 * failed / invocations, 0)', 'failed %'),
    ],
  }),
  pipeThrottled: alarm({
    key: 'PipeThrottled',
    description: `Pipe executions throttled > ${ALARM.pipeThrottledCount}/min: Lambda concurrency or account limits`,
    threshold: ALARM.pipeThrottledCount,
    queries: [
      {
        ...metric('throttled', 'AWS/EventBridge/Pipes', 'ExecutionThrottled', pipeDims, 'Sum'),
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
    description: `CurrentCPS above ${ALARM.cpsOfLimitPercent}% of the live limit (MAX_CPS ${DEFAULT_MAX_CPS} when the dialer publishes no ${MetricName.CpsLimit})`,
    threshold: ALARM.cpsOfLimitPercent,
    queries: [
      metric('cps', namespace, MetricName.CurrentCPS, dialerDims, 'Maximum'),
      metric('limit', namespace, MetricName.CpsLimit, dialerDims, 'Minimum'),
      expression('rate', `100 * cps / FILL(limit, ${DEFAULT_MAX_CPS})`, 'CPS % of limit'),
    ],
  }),
  rateLimited: alarm({
    key: 'RateLimitedPercent',
    description: `More than ${ALARM.rateLimitedPercent}% of tasks rate-limited: raise the limit (dialctl cps set) or pause campaigns`,
    threshold: ALARM.rateLimitedPercent,
    queries: [
      metric('limited', namespace, MetricName.RateLimitedTasks, dialerDims, 'Sum'),
      metric('dialed', namespace, MetricName.DialedTasks, dialerDims, 'Sum'),
      expression('rate', 'IF(limited + dialed > 0, 100 * limited / (limited + dialed), 0)', 'rate-limited %'),
    ],
  }),
  redisDegraded: alarm({
    key: 'RedisDegraded',
    description: 'A dialer ran without Redis (conservative local limit): check the Redis cluster and the VPC',
    threshold: ALARM.redisDegradedCount,
    immediate: true,
    queries: [
      { ...metric('degraded', namespace, MetricName.RedisDegradedMode, dialerDims, 'Sum'), returnData: true },
    ],
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
    const d = ['service', SERVICE.dialer]
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
            ['AWS/EventBridge/Pipes', 'Invocations', 'PipeName', pipeName],
            ['.', 'ExecutionFailed', '.', '.'],
            ['.', 'ExecutionPartiallyFailed', '.', '.'],
            ['.', 'ExecutionThrottled', '.', '.'],
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
