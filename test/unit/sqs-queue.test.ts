import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch'
import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { SqsQueue, cancelDlqRedrive, listDlqRedrives, startDlqRedrive } from '../../src/queue/sqs-queue.js'

const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dial-tasks'
const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks-dlq'
const sqs = mockClient(SQSClient)
const cw = mockClient(CloudWatchClient)
const queue = () => new SqsQueue({ client: new SQSClient({ region: 'eu-west-1' }), queueUrl: URL })

beforeEach(() => {
  sqs.reset()
  cw.reset()
})

describe('SqsQueue', () => {
  it('is named after the URL', () => {
    expect(queue().name).toBe('prod-dial-tasks')
  })

  it('send → SendMessage', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' })
    expect(await queue().send('{"a":1}')).toEqual({ messageId: 'm-1' })
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      MessageBody: '{"a":1}',
    })
  })

  it('sendBatch → SendMessageBatch with Id/MessageBody, maps successes and failures', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: 'a', MessageId: 'm-a', MD5OfMessageBody: 'x' }],
      Failed: [{ Id: 'b', Code: 'InternalError', Message: 'try again', SenderFault: false }],
    })
    const result = await queue().sendBatch([
      { id: 'a', body: 'A' },
      { id: 'b', body: 'B' },
    ])
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      Entries: [
        { Id: 'a', MessageBody: 'A' },
        { Id: 'b', MessageBody: 'B' },
      ],
    })
    expect(result).toEqual({
      successful: [{ id: 'a', messageId: 'm-a' }],
      failed: [{ id: 'b', code: 'InternalError', message: 'try again' }],
    })
  })

  it('a trace header travels as the AWSTraceHeader system attribute (send, sendBatch, defer)', async () => {
    const header = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'
    const attribute = { AWSTraceHeader: { DataType: 'String', StringValue: header } }
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' })
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [{ Id: 'd0', MessageId: 'm-2', MD5OfMessageBody: 'x' }], Failed: [] })
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: 'd0' }], Failed: [] })
    await queue().send('{}', { traceHeader: header })
    await queue().sendBatch([
      { id: 'a', body: '{}', traceHeader: header },
      { id: 'b', body: '{}' },
    ])
    await queue().defer([{ receiptHandle: 'rh', body: '{}', delaySeconds: 3, traceHeader: header }])
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageSystemAttributes).toEqual(attribute)
    const [batch, deferred] = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries!)
    expect(batch!.map((e) => e.MessageSystemAttributes)).toEqual([attribute, undefined])
    expect(deferred![0]!.MessageSystemAttributes).toEqual(attribute)
  })

  it('refuses 11 entries before calling AWS', async () => {
    const entries = Array.from({ length: 11 }, (_, i) => ({ id: `e${i}`, body: 'x' }))
    await expect(queue().sendBatch(entries)).rejects.toMatchObject({ code: 'TooManyEntriesInBatchRequest' })
    expect(sqs.calls()).toHaveLength(0)
  })

  it('receive → ReceiveMessage with system attributes and whole-second timeouts; maps the message', async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        {
          MessageId: 'm-1',
          ReceiptHandle: 'rh-1',
          Body: 'b',
          Attributes: {
            ApproximateReceiveCount: '2',
            SentTimestamp: '1700000000000',
            ApproximateFirstReceiveTimestamp: '1700000001000',
          },
        },
      ],
    })
    const [m] = await queue().receive({ maxMessages: 10, visibilityTimeoutSeconds: 1.2, waitTimeSeconds: 20 })
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      MaxNumberOfMessages: 10,
      MessageSystemAttributeNames: [
        'ApproximateReceiveCount',
        'SentTimestamp',
        'ApproximateFirstReceiveTimestamp',
        'AWSTraceHeader',
      ],
      VisibilityTimeout: 2,
      WaitTimeSeconds: 20,
    })
    expect(m).toMatchObject({
      messageId: 'm-1',
      receiptHandle: 'rh-1',
      body: 'b',
      receiveCount: 2,
      sentAt: new Date(1700000000000),
      firstReceivedAt: new Date(1700000001000),
    })
  })

  it('delete → DeleteMessage; changeVisibility → ChangeMessageVisibility', async () => {
    sqs.on(DeleteMessageCommand).resolves({})
    sqs.on(ChangeMessageVisibilityCommand).resolves({})
    await queue().delete('rh-1')
    await queue().changeVisibility('rh-2', 4)
    expect(sqs.commandCalls(DeleteMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      ReceiptHandle: 'rh-1',
    })
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      ReceiptHandle: 'rh-2',
      VisibilityTimeout: 4,
    })
  })

  it('depth → GetQueueAttributes, oldest age from CloudWatch when given a client', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '12', ApproximateNumberOfMessagesNotVisible: '3' },
    })
    cw.on(GetMetricStatisticsCommand).resolves({
      Datapoints: [
        { Timestamp: new Date(1000), Maximum: 10 },
        { Timestamp: new Date(2000), Maximum: 42.7 },
      ],
    })
    const q = new SqsQueue({
      client: new SQSClient({ region: 'eu-west-1' }),
      queueUrl: URL,
      cloudWatch: new CloudWatchClient({ region: 'eu-west-1' }),
    })
    expect(await q.depth()).toEqual({ visible: 12, inFlight: 3, oldestAgeSeconds: 42 })
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    })
    const cwInput = cw.commandCalls(GetMetricStatisticsCommand)[0]!.args[0].input
    expect(cwInput).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: 'prod-dial-tasks' }],
      Period: 60,
      Statistics: ['Maximum'],
    })
    expect(cwInput.EndTime!.getTime() - cwInput.StartTime!.getTime()).toBe(5 * 60_000)
  })

  it('peek receives, then releases everything with ChangeMessageVisibilityBatch(0)', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          {
            MessageId: 'b',
            ReceiptHandle: 'rh-b',
            Body: 'B',
            Attributes: { SentTimestamp: '2000', ApproximateReceiveCount: '4' },
          },
          {
            MessageId: 'a',
            ReceiptHandle: 'rh-a',
            Body: 'A',
            Attributes: { SentTimestamp: '1000', ApproximateReceiveCount: '4' },
          },
        ],
      })
      .resolvesOnce({ Messages: [] })
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] })
    const peeked = await queue().peek(5)
    expect(peeked.map((m) => [m.messageId, m.receiptHandle])).toEqual([
      ['a', ''],
      ['b', ''],
    ])
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      MaxNumberOfMessages: 5,
      VisibilityTimeout: 30,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: [
        'ApproximateReceiveCount',
        'SentTimestamp',
        'ApproximateFirstReceiveTimestamp',
        'AWSTraceHeader',
        'DeadLetterQueueSourceArn',
      ],
    })
    expect(sqs.commandCalls(ReceiveMessageCommand)[1]!.args[0].input.MaxNumberOfMessages).toBe(3)
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      Entries: [
        { Id: 'm0', ReceiptHandle: 'rh-b', VisibilityTimeout: 0 },
        { Id: 'm1', ReceiptHandle: 'rh-a', VisibilityTimeout: 0 },
      ],
    })
  })

  it('purge → PurgeQueue, counting what was there; a second purge within 60 s says so', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '5', ApproximateNumberOfMessagesNotVisible: '1' },
    })
    sqs
      .on(PurgeQueueCommand)
      .resolvesOnce({})
      .rejectsOnce(new PurgeQueueInProgress({ message: 'x', $metadata: {} }))
    expect(await queue().purge()).toBe(6)
    expect(sqs.commandCalls(PurgeQueueCommand)[0]!.args[0].input).toEqual({ QueueUrl: URL })
    await expect(queue().purge()).rejects.toThrow(/one a minute/)
  })
})

describe('SqsQueue deferral (#12: rate limiting is deferral, not failure)', () => {
  it('send and sendBatch pass DelaySeconds; a delay outside 0–900 whole seconds is refused before any call', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' })
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [{ Id: 'a', MessageId: 'm-a', MD5OfMessageBody: 'x' }] })
    await queue().send('{"a":1}', { delaySeconds: 7 })
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      MessageBody: '{"a":1}',
      DelaySeconds: 7,
    })
    await queue().sendBatch([{ id: 'a', body: 'A', delaySeconds: 900 }])
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      Entries: [{ Id: 'a', MessageBody: 'A', DelaySeconds: 900 }],
    })
    await expect(queue().send('x', { delaySeconds: 901 })).rejects.toThrow(/delaySeconds is 901; .*0 to 900/)
    await expect(queue().sendBatch([{ id: 'b', body: 'B', delaySeconds: 1.5 }])).rejects.toThrow(
      /sendBatch entry "b" delaySeconds is 1.5; it must be a whole number/,
    )
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1)
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1)
  })

  it('defer re-sends each body with its DelaySeconds, then deletes exactly the received copies that were re-sent', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [
        { Id: 'd0', MessageId: 'new-0', MD5OfMessageBody: 'x' },
        { Id: 'd2', MessageId: 'new-2', MD5OfMessageBody: 'x' },
      ],
      Failed: [{ Id: 'd1', Code: 'InternalError', Message: 'try again', SenderFault: false }],
    })
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: 'd0' }, { Id: 'd2' }], Failed: [] })
    const result = await queue().defer([
      { receiptHandle: 'rh-0', body: '{"contactId":"a"}', delaySeconds: 1 },
      { receiptHandle: 'rh-1', body: '{"contactId":"b"}', delaySeconds: 2 },
      { receiptHandle: 'rh-2', body: '{"contactId":"c"}', delaySeconds: 900 },
    ])
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      Entries: [
        { Id: 'd0', MessageBody: '{"contactId":"a"}', DelaySeconds: 1 },
        { Id: 'd1', MessageBody: '{"contactId":"b"}', DelaySeconds: 2 },
        { Id: 'd2', MessageBody: '{"contactId":"c"}', DelaySeconds: 900 },
      ],
    })
    // the copy whose re-send failed is kept: it retries as an ordinary receive, nothing is lost
    expect(sqs.commandCalls(DeleteMessageBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: URL,
      Entries: [
        { Id: 'd0', ReceiptHandle: 'rh-0' },
        { Id: 'd2', ReceiptHandle: 'rh-2' },
      ],
    })
    // send strictly before delete (at-least-once: never a moment with no copy)
    const order = sqs.calls().map((c) => (c.args[0] as object).constructor.name)
    expect(order).toEqual(['SendMessageBatchCommand', 'DeleteMessageBatchCommand'])
    expect(result).toEqual({
      deferred: [
        { index: 0, messageId: 'new-0' },
        { index: 2, messageId: 'new-2' },
      ],
      failed: [{ index: 1, code: 'InternalError', message: 'try again' }],
    })
  })

  it('defer: a send that fails outright deletes nothing; more than 10 entries is refused before any call', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }))
    await expect(queue().defer([{ receiptHandle: 'rh-0', body: 'x', delaySeconds: 1 }])).rejects.toThrow(
      /throttled/,
    )
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0)
    const eleven = Array.from({ length: 11 }, (_, i) => ({
      receiptHandle: `rh-${i}`,
      body: 'x',
      delaySeconds: 1,
    }))
    await expect(queue().defer(eleven)).rejects.toThrow(/11 entries; the limit is 10/)
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1)
  })
})

describe('AWS DLQ redrive helpers', () => {
  it('startDlqRedrive → StartMessageMoveTask with the DLQ ARN and rate', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'th-1' })
    expect(await startDlqRedrive(new SQSClient({}), { sourceArn: DLQ_ARN, maxPerSecond: 50 })).toEqual({
      taskHandle: 'th-1',
    })
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
      SourceArn: DLQ_ARN,
      MaxNumberOfMessagesPerSecond: 50,
    })
  })

  it('startDlqRedrive passes a destination and refuses a rate above 500', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'th-2' })
    await startDlqRedrive(new SQSClient({}), {
      sourceArn: DLQ_ARN,
      destinationArn: 'arn:aws:sqs:eu-west-1:1:other',
    })
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
      SourceArn: DLQ_ARN,
      DestinationArn: 'arn:aws:sqs:eu-west-1:1:other',
    })
    await expect(
      startDlqRedrive(new SQSClient({}), { sourceArn: DLQ_ARN, maxPerSecond: 501 }),
    ).rejects.toThrow(/from 1 to 500/)
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(1)
  })

  it('listDlqRedrives → ListMessageMoveTasks, mapped to progress', async () => {
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          TaskHandle: 'th-1',
          Status: 'RUNNING',
          SourceArn: DLQ_ARN,
          MaxNumberOfMessagesPerSecond: 50,
          ApproximateNumberOfMessagesMoved: 20,
          ApproximateNumberOfMessagesToMove: 100,
          StartedTimestamp: 1700000000000,
        },
        {
          Status: 'FAILED',
          SourceArn: DLQ_ARN,
          FailureReason: 'AccessDenied',
          StartedTimestamp: 1690000000000,
        },
      ],
    })
    const tasks = await listDlqRedrives(new SQSClient({}), { sourceArn: DLQ_ARN })
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]!.args[0].input).toEqual({
      SourceArn: DLQ_ARN,
      MaxResults: 10,
    })
    expect(tasks).toEqual([
      {
        taskHandle: 'th-1',
        source: DLQ_ARN,
        status: 'RUNNING',
        maxPerSecond: 50,
        moved: 20,
        toMove: 100,
        startedAt: new Date(1700000000000),
      },
      {
        taskHandle: '',
        source: DLQ_ARN,
        status: 'FAILED',
        moved: 0,
        toMove: 0,
        failureReason: 'AccessDenied',
        startedAt: new Date(1690000000000),
      },
    ])
  })

  it('cancelDlqRedrive → CancelMessageMoveTask', async () => {
    sqs.on(CancelMessageMoveTaskCommand).resolves({ ApproximateNumberOfMessagesMoved: 7 })
    expect(await cancelDlqRedrive(new SQSClient({}), 'th-1')).toEqual({ moved: 7 })
    expect(sqs.commandCalls(CancelMessageMoveTaskCommand)[0]!.args[0].input).toEqual({ TaskHandle: 'th-1' })
  })
})
