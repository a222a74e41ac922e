import { newTaskTraceHeader } from '../tracing/stamp.js'
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs'
import type { SQSClient } from '@aws-sdk/client-sqs'
import { AwsMetric } from '../observability/metrics.js'
import { SQS_MAX_BATCH } from '../queue/port.js'
import { latestMetricValues, metricQuery } from './aws-cloudwatch.js'
import { summarizeQueueBody } from './dlq-summary.js'
import type { DlqMessage, PushEntry, PushResult, QueueDepth, RedriveStatus } from './port.js'

export interface QueueNames {
  queueUrl: string
  queueArn: string
  dlqUrl: string
  dlqArn: string
}

/** The dial-tasks queue and its DLQ on SQS (depth, peek, redrive, purge, test traffic). */
export class AwsQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly cloudwatch: CloudWatchClient,
    private readonly names: QueueNames,
    private readonly now: () => Date,
  ) {}

  async depth(QueueUrl: string): Promise<QueueDepth> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    )
    const visible = Number(out.Attributes?.ApproximateNumberOfMessages ?? 0)
    const inFlight = Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    // SQS has no "oldest message" attribute; CloudWatch has it (1-minute resolution).
    let oldestAgeSeconds = 0
    if (visible + inFlight > 0) {
      const queueName = QueueUrl.split('/').pop() ?? QueueUrl
      const s = AwsMetric.sqs
      const oldest = {
        namespace: s.namespace,
        name: s.ApproximateAgeOfOldestMessage,
        dimensions: { [s.dimension]: queueName },
      }
      const values = await latestMetricValues(
        this.cloudwatch,
        [metricQuery('oldest', oldest, 60, 'Maximum')],
        5,
        this.now(),
      )
      oldestAgeSeconds = values.oldest ?? 0
    }
    return { visible, inFlight, oldestAgeSeconds }
  }

  /**
   * SQS cannot look without receiving. Receiving with VisibilityTimeout 0 leaves every message
   * visible and in place (nothing consumed, nothing reordered for the consumer); it does bump
   * ApproximateReceiveCount, which is harmless on the DLQ (it has no redrive policy of its own).
   */
  async dlqList(limit: number): Promise<DlqMessage[]> {
    const seen = new Map<string, DlqMessage>()
    for (let round = 0; round < Math.ceil(limit / SQS_MAX_BATCH) + 3 && seen.size < limit; round++) {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.names.dlqUrl,
          MaxNumberOfMessages: Math.min(SQS_MAX_BATCH, limit - seen.size),
          VisibilityTimeout: 0,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
        }),
      )
      const messages = out.Messages ?? []
      let fresh = 0
      for (const m of messages) {
        if (!m.MessageId || seen.has(m.MessageId)) continue
        fresh++
        const attrs = m.Attributes ?? {}
        const first = attrs.ApproximateFirstReceiveTimestamp
        seen.set(m.MessageId, {
          messageId: m.MessageId,
          ...summarizeQueueBody(m.Body ?? ''),
          receiveCount: Number(attrs.ApproximateReceiveCount ?? 0),
          sentAt: new Date(Number(attrs.SentTimestamp ?? 0)).toISOString(),
          ...(first ? { firstReceivedAt: new Date(Number(first)).toISOString() } : {}),
        })
      }
      if (messages.length === 0 || fresh === 0) break
    }
    return [...seen.values()].slice(0, limit)
  }

  async dlqRedrive(options: { maxPerSecond?: number }): Promise<RedriveStatus> {
    const out = await this.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: this.names.dlqArn,
        DestinationArn: this.names.queueArn,
        ...(options.maxPerSecond ? { MaxNumberOfMessagesPerSecond: options.maxPerSecond } : {}),
      }),
    )
    return {
      status: 'RUNNING',
      ...(out.TaskHandle ? { taskHandle: out.TaskHandle } : {}),
      moved: 0,
      ...(options.maxPerSecond ? { maxPerSecond: options.maxPerSecond } : {}),
      startedAt: this.now().toISOString(),
    }
  }

  async dlqRedriveStatus(): Promise<RedriveStatus | undefined> {
    const out = await this.sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: this.names.dlqArn, MaxResults: 1 }),
    )
    const task = out.Results?.[0]
    if (!task) return undefined
    return {
      status: task.Status ?? 'UNKNOWN',
      ...(task.TaskHandle ? { taskHandle: task.TaskHandle } : {}),
      moved: task.ApproximateNumberOfMessagesMoved ?? 0,
      ...(task.ApproximateNumberOfMessagesToMove !== undefined
        ? { toMove: task.ApproximateNumberOfMessagesToMove }
        : {}),
      ...(task.MaxNumberOfMessagesPerSecond ? { maxPerSecond: task.MaxNumberOfMessagesPerSecond } : {}),
      ...(task.StartedTimestamp ? { startedAt: new Date(task.StartedTimestamp).toISOString() } : {}),
      ...(task.FailureReason ? { failureReason: task.FailureReason } : {}),
    }
  }

  async dlqPurge(): Promise<number> {
    const before = await this.depth(this.names.dlqUrl)
    await this.sqs.send(new PurgeQueueCommand({ QueueUrl: this.names.dlqUrl }))
    return before.visible + before.inFlight
  }

  async push(entries: PushEntry[]): Promise<PushResult> {
    const result: PushResult = { sent: [], failed: [] }
    if (entries.length === 1) {
      const [only] = entries
      const out = await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.names.queueUrl,
          MessageBody: JSON.stringify(only!.task),
          ...traceAttribute(),
        }),
      )
      result.sent.push({ id: only!.id, messageId: out.MessageId ?? '' })
      return result
    }
    for (let i = 0; i < entries.length; i += SQS_MAX_BATCH) {
      const chunk = entries.slice(i, i + SQS_MAX_BATCH)
      const out = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.names.queueUrl,
          Entries: chunk.map((e) => ({ Id: e.id, MessageBody: JSON.stringify(e.task), ...traceAttribute() })),
        }),
      )
      for (const ok of out.Successful ?? []) result.sent.push({ id: ok.Id!, messageId: ok.MessageId ?? '' })
      for (const bad of out.Failed ?? [])
        result.failed.push({ id: bad.Id!, code: bad.Code ?? 'Unknown', message: bad.Message ?? '' })
    }
    return result
  }
}

/**
 * A pushed task starts its own trace: the AWSTraceHeader system attribute (SQS API reference,
 * SendMessage MessageSystemAttributes), which the pipe hands to enrich with the record.
 */
function traceAttribute() {
  return {
    MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: newTaskTraceHeader() } },
  }
}
