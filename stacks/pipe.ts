import { dialer, enrich } from './functions'
import { dialTasks } from './queue'
import { BATCH_SIZE, BATCH_WINDOW_SECONDS, FILTER_PATTERN, NON_JSON_BODY_PATTERN } from './settings'

/**
 * dial-tasks → filter → enrich → dialer. SST has no Pipes component, so a raw aws.pipes.Pipe
 * with its own role that may do exactly this and nothing else.
 */

const pipeName = `${$app.name}-${$app.stage}-dial-tasks`

export const pipeLogGroup = new aws.cloudwatch.LogGroup('DialTasksPipeLogs', {
  name: `/aws/vendedlogs/pipes/${pipeName}`,
  retentionInDays: 30,
})

export const pipeRole = new aws.iam.Role('DialTasksPipeRole', {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: 'pipes.amazonaws.com' }),
})

/** Least privilege: read/delete on the one queue, invoke the two functions, write the one log group. */
export const pipePolicy = new aws.iam.RolePolicy('DialTasksPipePolicy', {
  role: pipeRole.id,
  policy: $jsonStringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ReadSource',
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: [dialTasks.arn],
      },
      {
        Sid: 'InvokeEnrichAndTarget',
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [enrich.arn, dialer.arn],
      },
      {
        Sid: 'WriteLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [$interpolate`${pipeLogGroup.arn}:*`],
      },
    ],
  }),
})

export const pipe = new aws.pipes.Pipe(
  'DialTasksPipe',
  {
    name: pipeName,
    description: 'dial-tasks → enrich-dial-task → dialer-worker',
    roleArn: pipeRole.arn,
    source: dialTasks.arn,
    sourceParameters: {
      sqsQueueParameters: {
        batchSize: BATCH_SIZE,
        maximumBatchingWindowInSeconds: BATCH_WINDOW_SECONDS,
      },
      // Tasks without a phone number are deleted here, before any Lambda is paid for; a body
      // that is not JSON goes on to enrich, which records its outcome (settings.ts).
      filterCriteria: { filters: [{ pattern: FILTER_PATTERN }, { pattern: NON_JSON_BODY_PATTERN }] },
    },
    // Created running; after that the operator owns it (`dialctl pipe stop|start`): see ignoreChanges.
    desiredState: 'RUNNING',
    enrichment: enrich.arn,
    target: dialer.arn,
    targetParameters: {
      // Synchronous: Pipes reads the dialer's `batchItemFailures` and returns only those
      // messages to the queue (partial batch failure); the rest are deleted.
      lambdaFunctionParameters: { invocationType: 'REQUEST_RESPONSE' },
    },
    logConfiguration: {
      level: 'ERROR',
      // No includeExecutionData: payloads carry phone numbers, which never go to logs.
      cloudwatchLogsLogDestination: { logGroupArn: pipeLogGroup.arn },
    },
  },
  // The pipe validates its role on creation: the policy must exist first. A deploy never
  // overrides the operator's `dialctl pipe stop`: the desired state is set once, at creation.
  { dependsOn: [pipePolicy], ignoreChanges: ['desiredState'] },
)
