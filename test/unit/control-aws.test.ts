import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { DescribePipeCommand, PipesClient, StartPipeCommand, StopPipeCommand } from '@aws-sdk/client-pipes'
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { explainAwsError } from '../../src/control/aws-errors.js'
import { AwsControlPlane, createAwsClients, type AwsResources } from '../../src/control/aws.js'
import { DataPlane } from '../../src/control/data.js'
import { saveCampaign } from '../../src/campaigns/repository.js'
import { demoCampaign } from '../../src/local-stack/demo.js'
import { createPool } from '../../src/db/pool.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

const resources: AwsResources = {
  pipeName: 'prod-dial-tasks-pipe',
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dial-tasks',
  queueArn: 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dial-tasks-dlq',
  dlqArn: 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks-dlq',
  workerClusterName: 'prod-cluster',
  workerServiceName: 'prod-worker',
  alarmPrefix: 'dialctl-prod-',
}

const sqs = mockClient(SQSClient)
const pipes = mockClient(PipesClient)
const lambda = mockClient(LambdaClient)
const cloudwatch = mockClient(CloudWatchClient)
const NOW = new Date('2026-03-01T10:00:00.000Z')

let db: TestDb
let redis: TestRedis
let plane: AwsControlPlane

beforeAll(async () => {
  db = await createTestDb('ctlaws')
  redis = await createTestRedis('ctlaws')
  const data = new DataPlane({
    pool: createPool({ schema: db.schema, max: 2 }),
    redis: redis.redis.duplicate(),
    redisPrefix: redis.prefix,
    defaultLimit: 100,
    now: () => NOW,
  })
  plane = new AwsControlPlane('prod', resources, createAwsClients({ region: 'eu-west-1' }), data, () => NOW)
})
afterAll(async () => {
  await plane.close()
  await redis.cleanup()
  await db.drop()
})
beforeEach(() => {
  sqs.reset()
  pipes.reset()
  lambda.reset()
  cloudwatch.reset()
})

describe('AWS control plane', () => {
  it('dlq redrive starts a message move task from the DLQ ARN to the queue ARN, at the given rate', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' })
    const status = await plane.dlqRedrive({ maxPerSecond: 10 })
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
      SourceArn: 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks-dlq',
      DestinationArn: 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks',
      MaxNumberOfMessagesPerSecond: 10,
    })
    expect(status).toMatchObject({ status: 'RUNNING', taskHandle: 'handle-1', moved: 0, maxPerSecond: 10 })
  })

  it('redrive status comes from ListMessageMoveTasks on the DLQ', async () => {
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          Status: 'COMPLETED',
          ApproximateNumberOfMessagesMoved: 42,
          ApproximateNumberOfMessagesToMove: 42,
          StartedTimestamp: NOW.getTime(),
        },
      ],
    })
    const status = await plane.dlqRedriveStatus()
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]!.args[0].input).toEqual({
      SourceArn: resources.dlqArn,
      MaxResults: 1,
    })
    expect(status).toEqual({ status: 'COMPLETED', moved: 42, toMove: 42, startedAt: NOW.toISOString() })
  })

  it('pipe stop/start name the stage pipe and describe it afterwards', async () => {
    pipes.on(StopPipeCommand).resolves({})
    pipes.on(StartPipeCommand).resolves({})
    pipes.on(DescribePipeCommand).resolves({
      Name: 'prod-dial-tasks-pipe',
      CurrentState: 'STOPPING',
      DesiredState: 'STOPPED',
      Source: resources.queueArn,
      SourceParameters: {
        FilterCriteria: { Filters: [{ Pattern: '{"phoneNumber":[{"exists":true}]}' }] },
        SqsQueueParameters: { BatchSize: 10, MaximumBatchingWindowInSeconds: 5 },
      },
      Enrichment: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-enrich',
      Target: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-dialer-worker',
    })
    const pipe = await plane.stopPipe()
    expect(pipes.commandCalls(StopPipeCommand)[0]!.args[0].input).toEqual({ Name: 'prod-dial-tasks-pipe' })
    expect(pipes.commandCalls(DescribePipeCommand)[0]!.args[0].input).toEqual({
      Name: 'prod-dial-tasks-pipe',
    })
    expect(pipe).toEqual({
      name: 'prod-dial-tasks-pipe',
      state: 'STOPPING',
      desiredState: 'STOPPED',
      source: resources.queueArn,
      filter: '{"phoneNumber":[{"exists":true}]}',
      batchSize: 10,
      batchWindowSeconds: 5,
      enrichment: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-enrich',
      target: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-dialer-worker',
    })
    await plane.startPipe()
    expect(pipes.commandCalls(StartPipeCommand)[0]!.args[0].input).toEqual({ Name: 'prod-dial-tasks-pipe' })
  })

  it('alarms: DescribeAlarms with StateValue ALARM and the stage prefix, following NextToken', async () => {
    cloudwatch
      .on(DescribeAlarmsCommand)
      .resolvesOnce({
        MetricAlarms: [
          { AlarmName: 'dialctl-prod-pipe-failures', StateValue: 'ALARM', StateReason: '7% > 5%' },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({ CompositeAlarms: [{ AlarmName: 'dialctl-prod-composite', StateValue: 'ALARM' }] })
    const alarms = await plane.alarms()
    const calls = cloudwatch.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input)
    expect(calls).toEqual([
      { StateValue: 'ALARM', AlarmNamePrefix: 'dialctl-prod-' },
      { StateValue: 'ALARM', AlarmNamePrefix: 'dialctl-prod-', NextToken: 'page-2' },
    ])
    expect(alarms.map((a) => a.name)).toEqual(['dialctl-prod-pipe-failures', 'dialctl-prod-composite'])
  })

  it('pushTasks: SendMessage for one task, SendMessageBatch of at most 10 for more', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' })
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })),
      Failed: [],
    }))
    // the contacts are registered first (registerPushedContacts): the campaign exists, each number once
    await saveCampaign(
      db.pool,
      { ...structuredClone(demoCampaign), id: 'c', status: 'active' },
      { mode: 'insert' },
    )
    const task = (i: number) => ({
      id: String(i),
      task: {
        campaignId: 'c',
        contactId: `k${i}`,
        phoneNumber: `+4420794600${String(i).padStart(2, '0')}`,
        attempts: 0,
      },
    })
    // Each pushed task starts its own trace (issue #19): the AWSTraceHeader message system attribute,
    // DataType String and an X-Ray trace header (SQS API reference, SendMessage
    // MessageSystemAttributes; X-Ray developer guide, "Tracing header": Root=1-<8 hex epoch
    // seconds>-<24 hex>, Sampled=0|1 per the sample rate).
    const before = Math.floor(Date.now() / 1000)
    const traceAttribute = {
      MessageSystemAttributes: {
        AWSTraceHeader: {
          DataType: 'String',
          StringValue: expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=[01]$/),
        },
      },
    }
    const one = await plane.pushTasks([task(0)])
    const sent = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input
    expect(sent).toEqual({
      QueueUrl: resources.queueUrl,
      MessageBody: JSON.stringify(task(0).task),
      ...traceAttribute,
    })
    const header = sent.MessageSystemAttributes!.AWSTraceHeader!.StringValue!
    const startSeconds = parseInt(header.slice('Root=1-'.length, 'Root=1-'.length + 8), 16)
    expect(startSeconds).toBeGreaterThanOrEqual(before)
    expect(startSeconds).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000))
    expect(one.sent).toEqual([{ id: '0', messageId: 'm-1' }])
    const many = await plane.pushTasks(Array.from({ length: 23 }, (_, i) => task(i)))
    const entries = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries!)
    expect(entries.map((e) => e.length)).toEqual([10, 10, 3])
    for (const e of entries.flat())
      expect(e).toEqual({ Id: e.Id, MessageBody: JSON.stringify(task(Number(e.Id)).task), ...traceAttribute })
    // one trace per task, not one per batch
    const roots = new Set(entries.flat().map((e) => e.MessageSystemAttributes!.AWSTraceHeader!.StringValue))
    expect(roots.size).toBe(23)
    expect(many.sent).toHaveLength(23)
    // a task the stage refuses before sending is not sent, and is reported (issue #15)
    sqs.resetHistory()
    const missing = await plane.pushTasks([{ id: '0', task: { ...task(30).task, campaignId: 'gone' } }])
    expect(missing).toEqual({
      sent: [],
      failed: [expect.objectContaining({ id: '0', code: 'CAMPAIGN_NOT_FOUND', exitCode: 1 })],
    })
    expect(sqs.calls()).toHaveLength(0)
  })

  it('dlq list receives with VisibilityTimeout 0, de-duplicates, and masks phone numbers', async () => {
    const message = (id: string, phone: string) => ({
      MessageId: id,
      Body: JSON.stringify({ campaignId: 'c1', contactId: `k-${id}`, phoneNumber: phone, attempts: 2 }),
      Attributes: {
        ApproximateReceiveCount: '4',
        SentTimestamp: String(NOW.getTime() - 60_000),
        ApproximateFirstReceiveTimestamp: String(NOW.getTime() - 50_000),
      },
    })
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('a', '+972501234567'), message('b', '+972501234568')] })
      .resolvesOnce({ Messages: [message('a', '+972501234567')] })
      .resolves({})
    const list = await plane.dlqList(5)
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: resources.dlqUrl,
      MaxNumberOfMessages: 5,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    })
    expect(list).toEqual([
      {
        messageId: 'a',
        campaignId: 'c1',
        contactId: 'k-a',
        phone: '+**********67',
        attempts: 2,
        receiveCount: 4,
        sentAt: new Date(NOW.getTime() - 60_000).toISOString(),
        firstReceivedAt: new Date(NOW.getTime() - 50_000).toISOString(),
      },
      expect.objectContaining({ messageId: 'b', phone: '+**********68' }),
    ])
    expect(JSON.stringify(list)).not.toContain('501234567')
  })

  it('queue depth from GetQueueAttributes; the oldest age from CloudWatch only when not empty', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '12', ApproximateNumberOfMessagesNotVisible: '3' },
    })
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'oldest', Values: [95] }] })
    expect(await plane.queueDepth()).toEqual({ visible: 12, inFlight: 3, oldestAgeSeconds: 95 })
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0]!.args[0].input).toEqual({
      QueueUrl: resources.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    })
    const metricInput = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input
    expect(metricInput.MetricDataQueries![0]!.MetricStat!.Metric).toEqual({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: 'prod-dial-tasks' }],
    })
    expect(metricInput.EndTime).toEqual(NOW)
  })

  it('dlq purge: PurgeQueue on the DLQ, reports how many were there', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    })
    sqs.on(PurgeQueueCommand).resolves({})
    expect(await plane.dlqPurge()).toBe(0)
    expect(sqs.commandCalls(PurgeQueueCommand)[0]!.args[0].input).toEqual({ QueueUrl: resources.dlqUrl })
  })

  it('controller inputs: ECS CPUUtilization of the worker service; answer rate from the stage database', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'cpu', Values: [73.5, 60] }] })
    const inputs = await plane.controllerInputs()
    expect(inputs).toEqual({ cpuPercent: 73.5, answerRate: null, sample: 0, at: NOW.toISOString() })
    const q = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries![0]!
    expect(q.MetricStat!.Metric).toEqual({
      Namespace: 'AWS/ECS',
      MetricName: 'CPUUtilization',
      Dimensions: [
        { Name: 'ClusterName', Value: 'prod-cluster' },
        { Name: 'ServiceName', Value: 'prod-worker' },
      ],
    })
  })

  it("pipe metrics: Invocations (Pipes has no ExecutionStarted) and ExecutionFailed sums over the window, with the dialer's DialedTasks and WorkerDeferrals", async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'executions', Values: [120] },
        { Id: 'failures', Values: [9] },
        { Id: 'workerDeferrals', Values: [40] },
      ],
    })
    expect(await plane.pipeMetrics(5)).toEqual({
      windowMinutes: 5,
      executions: 120,
      failures: 9,
      dialed: 0,
      workerDeferrals: 40,
    })
    const queries = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!
    expect(
      queries.map((q) => [
        q.MetricStat!.Metric!.Namespace,
        q.MetricStat!.Metric!.MetricName,
        q.MetricStat!.Period,
        q.MetricStat!.Stat,
      ]),
    ).toEqual([
      ['AWS/EventBridge/Pipes', 'Invocations', 300, 'Sum'],
      ['AWS/EventBridge/Pipes', 'ExecutionFailed', 300, 'Sum'],
      ['Dialctl/prod', 'DialedTasks', 300, 'Sum'],
      ['Dialctl/prod', 'WorkerDeferrals', 300, 'Sum'],
    ])
    // as the dialer emits them (Powertools adds the service dimension)
    expect(queries[3]!.MetricStat!.Metric!.Dimensions).toEqual([{ Name: 'service', Value: 'dialer-worker' }])
  })

  it('explains AWS errors with what to do next', () => {
    const denied = Object.assign(new Error('User is not authorized to perform: pipes:StopPipe'), {
      name: 'AccessDeniedException',
    })
    expect(explainAwsError(denied)?.suggestion).toMatch(/--profile/)
    const changed = Object.assign(new Error('revision mismatch'), { name: 'PreconditionFailedException' })
    expect(explainAwsError(changed)?.message).toMatch(/changed while we updated it/)
    expect(explainAwsError(new Error('plain'))).toBeUndefined()
  })
})
