import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch'
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type MessageSystemAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import {
  QueueError,
  SQS_MAX_WAIT_SECONDS,
  checkBatch,
  checkBody,
  checkDelay,
  checkMaxMessages,
  checkPeekLimit,
  checkVisibility,
  checkWait,
} from './limits.js'
import {
  SQS_MAX_BATCH,
  type DeferEntry,
  type DeferResult,
  type QueueDepth,
  type QueueMessage,
  type QueuePort,
  type ReceiveOptions,
  type SendBatchEntry,
  type SendBatchResult,
  type SendOptions,
  type SendResult,
} from './port.js'
import { asError } from '../errors.js'

export {
  cancelDlqRedrive,
  listDlqRedrives,
  startDlqRedrive,
  type StartDlqRedriveInput,
} from './sqs-redrive.js'

export interface SqsQueueOptions {
  client: SQSClient
  queueUrl: string
  /** shown in messages; default the last segment of the URL (the queue name) */
  name?: string
  /**
   * GetQueueAttributes has no "age of the oldest message": with a CloudWatch client, depth() reads
   * the ApproximateAgeOfOldestMessage metric (up to a minute or two old); without one it is 0.
   */
  cloudWatch?: CloudWatchClient
}

const SYSTEM_ATTRIBUTES: MessageSystemAttributeName[] = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'ApproximateFirstReceiveTimestamp',
  'AWSTraceHeader',
]

/**
 * The X-Ray trace header as an SQS message system attribute: "the only supported message system
 * attribute is AWSTraceHeader. Its type must be String" (SQS API reference, SendMessage
 * MessageSystemAttributes; X-Ray developer guide, "Amazon SQS and AWS X-Ray").
 */
function traceAttribute(header: string | undefined) {
  return header
    ? { MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: header } } }
    : {}
}

/** SQS takes whole seconds; rounding up never hides a message for less than asked. */
const wholeSeconds = (s: number) => Math.ceil(s)

function toMessage(m: Message): QueueMessage {
  const attributes: Record<string, string> = { ...(m.Attributes ?? {}) }
  const first = attributes.ApproximateFirstReceiveTimestamp
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    receiveCount: Number(attributes.ApproximateReceiveCount ?? '0'),
    sentAt: new Date(Number(attributes.SentTimestamp ?? '0')),
    ...(first ? { firstReceivedAt: new Date(Number(first)) } : {}),
    attributes,
  }
}

/** QueuePort over Amazon SQS (AWS stages). Limits are checked before any call, as the local queue does. */
export class SqsQueue implements QueuePort {
  readonly name: string
  private readonly client: SQSClient
  private readonly queueUrl: string
  private readonly cloudWatch?: CloudWatchClient

  constructor(options: SqsQueueOptions) {
    this.client = options.client
    this.queueUrl = options.queueUrl
    this.name = options.name ?? options.queueUrl.split('/').pop() ?? options.queueUrl
    this.cloudWatch = options.cloudWatch
  }

  async send(body: string, options: SendOptions = {}): Promise<SendResult> {
    checkBody(body, `send to "${this.name}"`)
    const delay =
      options.delaySeconds === undefined
        ? undefined
        : checkDelay(options.delaySeconds, `send to "${this.name}": delaySeconds`)
    const out = await this.call('SendMessage', () =>
      this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: body,
          ...(delay === undefined ? {} : { DelaySeconds: delay }),
          ...traceAttribute(options.traceHeader),
        }),
      ),
    )
    return { messageId: out.MessageId ?? '' }
  }

  async sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult> {
    checkBatch(entries)
    const out = await this.call('SendMessageBatch', () =>
      this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: entries.map((e) => ({
            Id: e.id,
            MessageBody: e.body,
            ...(e.delaySeconds === undefined ? {} : { DelaySeconds: e.delaySeconds }),
            ...traceAttribute(e.traceHeader),
          })),
        }),
      ),
    )
    return {
      successful: (out.Successful ?? []).map((s) => ({ id: s.Id ?? '', messageId: s.MessageId ?? '' })),
      failed: (out.Failed ?? []).map((f) => ({
        id: f.Id ?? '',
        code: f.Code ?? 'Unknown',
        message: f.Message ?? '',
      })),
    }
  }

  async receive(options: ReceiveOptions = {}): Promise<QueueMessage[]> {
    const max = checkMaxMessages(options.maxMessages)
    const wait = checkWait(options.waitTimeSeconds)
    const out = await this.call('ReceiveMessage', () =>
      this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: max,
          MessageSystemAttributeNames: SYSTEM_ATTRIBUTES,
          ...(options.visibilityTimeoutSeconds === undefined
            ? {}
            : { VisibilityTimeout: wholeSeconds(checkVisibility(options.visibilityTimeoutSeconds)) }),
          ...(options.waitTimeSeconds === undefined
            ? {}
            : { WaitTimeSeconds: Math.min(wholeSeconds(wait), SQS_MAX_WAIT_SECONDS) }),
        }),
      ),
    )
    return (out.Messages ?? []).map(toMessage)
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.call('DeleteMessage', () =>
      this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle })),
    )
  }

  /**
   * Retry later without spending a receive: SendMessageBatch with each entry's DelaySeconds, then
   * DeleteMessageBatch of the received copies whose re-send succeeded (a failed re-send keeps its
   * copy, which then retries as an ordinary receive). SQS cannot reset ApproximateReceiveCount,
   * so this is the only way a deferral does not count toward maxReceiveCount. A failed delete
   * leaves two copies: at-least-once, and the dial gate refuses the second dial.
   */
  async defer(entries: DeferEntry[]): Promise<DeferResult> {
    if (entries.length === 0) return { deferred: [], failed: [] }
    const batch = entries.map((e, i) => ({
      id: `d${i}`,
      body: e.body,
      delaySeconds: e.delaySeconds,
      ...(e.traceHeader ? { traceHeader: e.traceHeader } : {}),
    }))
    checkBatch(batch)
    const sent = await this.sendBatch(batch)
    const index = (id: string) => Number(id.slice(1))
    const deferred = sent.successful.map((s) => ({ index: index(s.id), messageId: s.messageId }))
    const failed = sent.failed.map((f) => ({ index: index(f.id), code: f.code, message: f.message }))
    // A copy whose delete fails (DeleteMessageBatch's per-entry Failed) comes back after its
    // visibility timeout and is dialed once or refused by the gate: the deferral still happened.
    if (deferred.length > 0)
      await this.call('DeleteMessageBatch', () =>
        this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: deferred.map((d) => ({
              Id: `d${d.index}`,
              ReceiptHandle: entries[d.index]!.receiptHandle,
            })),
          }),
        ),
      )
    return { deferred, failed }
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    const seconds = wholeSeconds(checkVisibility(visibilityTimeoutSeconds))
    await this.call('ChangeMessageVisibility', () =>
      this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      ),
    )
  }

  async depth(): Promise<QueueDepth> {
    const out = await this.call('GetQueueAttributes', () =>
      this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      ),
    )
    const attrs = out.Attributes ?? {}
    return {
      visible: Number(attrs.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(attrs.ApproximateNumberOfMessagesNotVisible ?? 0),
      oldestAgeSeconds: await this.oldestAge(),
    }
  }

  private async oldestAge(): Promise<number> {
    if (!this.cloudWatch) return 0
    const end = new Date()
    const out = await this.cloudWatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: this.name }],
        StartTime: new Date(end.getTime() - 5 * 60_000),
        EndTime: end,
        Period: 60,
        Statistics: ['Maximum'],
      }),
    )
    const latest = (out.Datapoints ?? [])
      .filter((d) => d.Timestamp)
      .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime())[0]
    return Math.max(0, Math.floor(latest?.Maximum ?? 0))
  }

  /**
   * SQS has no non-consuming read. This receives (holding what it has seen for 30 s so the next
   * receive returns other messages) and then releases everything at once with
   * ChangeMessageVisibility 0. It DOES increment ApproximateReceiveCount of every message seen: use
   * it on a DLQ (which has no redrive policy of its own), never on a queue with a redrive policy,
   * where it would push messages toward the DLQ. receiptHandle is '' as on the local queue.
   */
  async peek(limit: number): Promise<QueueMessage[]> {
    checkPeekLimit(limit)
    const seen = new Map<string, QueueMessage>()
    const handles: string[] = []
    try {
      while (seen.size < limit) {
        const out = await this.call('ReceiveMessage', () =>
          this.client.send(
            new ReceiveMessageCommand({
              QueueUrl: this.queueUrl,
              MaxNumberOfMessages: Math.min(SQS_MAX_BATCH, limit - seen.size),
              VisibilityTimeout: 30,
              // long polling asks every server, so an empty answer means (nearly) empty
              WaitTimeSeconds: 1,
              MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES, 'DeadLetterQueueSourceArn'],
            }),
          ),
        )
        const messages = out.Messages ?? []
        if (messages.length === 0) break
        for (const m of messages) {
          if (m.ReceiptHandle) handles.push(m.ReceiptHandle)
          if (m.MessageId && !seen.has(m.MessageId))
            seen.set(m.MessageId, { ...toMessage(m), receiptHandle: '' })
        }
      }
    } finally {
      for (let i = 0; i < handles.length; i += SQS_MAX_BATCH) {
        const chunk = handles.slice(i, i + SQS_MAX_BATCH)
        await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((h, j) => ({ Id: `m${i + j}`, ReceiptHandle: h, VisibilityTimeout: 0 })),
          }),
        )
      }
    }
    return [...seen.values()].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime())
  }

  /** PurgeQueue; returns the approximate number of messages there were (SQS does not say). */
  async purge(): Promise<number> {
    const before = await this.depth()
    await this.call('PurgeQueue', () => this.client.send(new PurgeQueueCommand({ QueueUrl: this.queueUrl })))
    return before.visible + before.inFlight
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      const name = asError(error).name
      if (name === 'PurgeQueueInProgress')
        throw new QueueError(
          name,
          `PurgeQueue on "${this.name}": a purge already ran in the last 60 seconds (SQS allows one a minute); try again in a minute`,
        )
      if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue')
        throw new QueueError(
          'QueueDoesNotExist',
          `${operation} on ${this.queueUrl}: the queue does not exist — check --stage, --region and that the stage is deployed`,
        )
      throw error
    }
  }
}
