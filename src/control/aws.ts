import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch'
import {
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda'
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
import { METRIC_NAMESPACE, MetricName } from '../observability/metrics.js'
import { SQS_MAX_BATCH } from '../queue/port.js'
import type { DataPlane } from './data.js'
import { summarizeQueueBody } from './dlq-summary.js'
import type {
  Alarm,
  AuditEntry,
  CampaignInput,
  CampaignMove,
  CampaignSummary,
  CampaignTransition,
  ContactRow,
  ControllerInputs,
  ControlPlane,
  DlqMessage,
  ImportResult,
  OutcomeCount,
  Reachability,
  PacingSnapshot,
  PersistResult,
  PipeDescription,
  PipeMetrics,
  PushEntry,
  PushResult,
  QueueDepth,
  RedriveStatus,
  RunProgress,
  CampaignMedia,
} from './port.js'

/** The deployed stage's resources dialctl acts on (a subset of the SST stage outputs). */
export interface AwsResources {
  pipeName: string
  queueUrl: string
  queueArn: string
  dlqUrl: string
  dlqArn: string
  dialerFunctionName: string
  /** ECS cluster/service of the worker fleet, for its CPU; absent = no CPU input */
  workerClusterName?: string
  workerServiceName?: string
  /** only alarms whose name starts with this (the stage's), else every alarm of the account */
  alarmPrefix?: string
}

export interface AwsClients {
  pipes: PipesClient
  sqs: SQSClient
  lambda: LambdaClient
  cloudwatch: CloudWatchClient
}

/**
 * SDK v3 clients with the standard credential chain. `profile`/`region` come from the flags;
 * AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_SQS, …) are read by the SDK itself.
 */
export function createAwsClients(options: { profile?: string; region?: string }): AwsClients {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  }
  return {
    pipes: new PipesClient(config),
    sqs: new SQSClient(config),
    lambda: new LambdaClient(config),
    cloudwatch: new CloudWatchClient(config),
  }
}

/** functions/dialer-worker.ts's Powertools serviceName */
export const DIALER_SERVICE = 'dialer-worker'

export class AwsControlPlane implements ControlPlane {
  readonly kind = 'aws' as const

  constructor(
    readonly stage: string,
    private readonly resources: AwsResources,
    private readonly clients: AwsClients,
    private readonly data: DataPlane,
    private readonly now: () => Date = () => new Date(),
  ) {}

  // ---- pacing: the live limit is in the stage's Redis, the default in the Lambda env
  /**
   * The dialers cannot write "I am degraded" to the Redis they cannot reach: they emit the
   * RedisDegradedMode metric instead, which we read from CloudWatch.
   */
  async pacing(): Promise<PacingSnapshot> {
    const [snap, values] = await Promise.all([
      this.data.pacing(),
      this.metricData(
        [
          {
            Id: 'degraded',
            MetricStat: {
              // Powertools Metrics adds the `service` dimension: the dialer Lambda's service name.
              Metric: {
                Namespace: METRIC_NAMESPACE,
                MetricName: MetricName.RedisDegradedMode,
                Dimensions: [{ Name: 'service', Value: DIALER_SERVICE }],
              },
              Period: 60,
              Stat: 'Sum',
            },
          },
        ],
        2,
      ),
    ])
    return { ...snap, degraded: snap.degraded || (values.degraded ?? 0) > 0 }
  }
  setLimit(limit: number, reason: string, actor: string, source?: string): Promise<AuditEntry> {
    return this.data.setLimit(limit, reason, actor, source)
  }
  limitHistory(limit: number): Promise<AuditEntry[]> {
    return this.data.limitHistory(limit)
  }

  async persistDefaultLimit(limit: number): Promise<PersistResult> {
    const FunctionName = this.resources.dialerFunctionName
    const current = await this.clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName }))
    const variables = { ...(current.Environment?.Variables ?? {}) }
    const previous = variables.MAX_CPS ?? null
    // MERGE: the dialer's other variables (Redis endpoint, worker URL, tokens …) stay as they are.
    // RevisionId makes Lambda refuse the update if someone changed the function in between,
    // instead of silently overwriting their change with our stale copy.
    await this.clients.lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName,
        Environment: { Variables: { ...variables, MAX_CPS: String(limit) } },
        ...(current.RevisionId ? { RevisionId: current.RevisionId } : {}),
      }),
    )
    return {
      functionName: FunctionName,
      previous,
      maxCps: String(limit),
      keptVariables: Object.keys(variables)
        .filter((k) => k !== 'MAX_CPS')
        .sort(),
    }
  }

  // ---- pipe
  async describePipe(): Promise<PipeDescription> {
    const out = await this.clients.pipes.send(new DescribePipeCommand({ Name: this.resources.pipeName }))
    const sqs = out.SourceParameters?.SqsQueueParameters
    const filter = out.SourceParameters?.FilterCriteria?.Filters?.map((f) => f.Pattern)
      .filter(Boolean)
      .join(' OR ')
    return {
      name: out.Name ?? this.resources.pipeName,
      state: out.CurrentState ?? 'UNKNOWN',
      desiredState: out.DesiredState ?? 'UNKNOWN',
      ...(out.StateReason ? { stateReason: out.StateReason } : {}),
      source: out.Source ?? this.resources.queueArn,
      ...(filter ? { filter } : {}),
      ...(sqs?.BatchSize !== undefined ? { batchSize: sqs.BatchSize } : {}),
      ...(sqs?.MaximumBatchingWindowInSeconds !== undefined
        ? { batchWindowSeconds: sqs.MaximumBatchingWindowInSeconds }
        : {}),
      ...(out.Enrichment ? { enrichment: out.Enrichment } : {}),
      target: out.Target ?? '',
    }
  }

  async startPipe(): Promise<PipeDescription> {
    await this.clients.pipes.send(new StartPipeCommand({ Name: this.resources.pipeName }))
    return this.describePipe()
  }

  async stopPipe(): Promise<PipeDescription> {
    await this.clients.pipes.send(new StopPipeCommand({ Name: this.resources.pipeName }))
    return this.describePipe()
  }

  async pipeMetrics(windowMinutes: number): Promise<PipeMetrics> {
    const dims = [{ Name: 'PipeName', Value: this.resources.pipeName }]
    const q = (Id: string, MetricName: string): MetricDataQuery => ({
      Id,
      MetricStat: {
        Metric: { Namespace: 'AWS/EventBridge/Pipes', MetricName, Dimensions: dims },
        Period: windowMinutes * 60,
        Stat: 'Sum',
      },
    })
    const values = await this.metricData(
      [q('executions', 'ExecutionStarted'), q('failures', 'ExecutionFailed')],
      windowMinutes,
    )
    return { windowMinutes, executions: values.executions ?? 0, failures: values.failures ?? 0 }
  }

  // ---- queues
  queueDepth(): Promise<QueueDepth> {
    return this.depthOf(this.resources.queueUrl)
  }
  dlqDepth(): Promise<QueueDepth> {
    return this.depthOf(this.resources.dlqUrl)
  }

  private async depthOf(QueueUrl: string): Promise<QueueDepth> {
    const out = await this.clients.sqs.send(
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
      const values = await this.metricData(
        [
          {
            Id: 'oldest',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/SQS',
                MetricName: 'ApproximateAgeOfOldestMessage',
                Dimensions: [{ Name: 'QueueName', Value: queueName }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
        5,
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
      const out = await this.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.resources.dlqUrl,
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
    const out = await this.clients.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: this.resources.dlqArn,
        DestinationArn: this.resources.queueArn,
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
    const out = await this.clients.sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: this.resources.dlqArn, MaxResults: 1 }),
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
    const before = await this.depthOf(this.resources.dlqUrl)
    await this.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: this.resources.dlqUrl }))
    return before.visible + before.inFlight
  }

  // ---- campaigns: the stage's PostgreSQL
  listCampaigns(): Promise<CampaignSummary[]> {
    return this.data.listCampaigns()
  }

  campaignMedia(windowMinutes: number, id?: string): Promise<CampaignMedia[]> {
    return this.data.campaignMedia(windowMinutes, id)
  }
  showCampaign(id: string): Promise<CampaignSummary> {
    return this.data.showCampaign(id)
  }
  transitionCampaign(
    id: string,
    move: CampaignMove,
    reason: string | null,
    actor: string,
  ): Promise<CampaignTransition> {
    return this.data.transitionCampaign(id, move, reason, actor)
  }
  createCampaign(input: CampaignInput): Promise<CampaignSummary> {
    return this.data.createCampaign(input)
  }
  importContacts(campaignId: string, rows: ContactRow[]): Promise<Omit<ImportResult, 'invalid'>> {
    return this.data.importContacts(campaignId, rows)
  }

  // ---- test traffic
  async pushTasks(entries: PushEntry[]): Promise<PushResult> {
    // The dial gate dials only contacts that exist: a pushed task brings its contact row.
    await this.data.registerPushedContacts(entries)
    const result: PushResult = { sent: [], failed: [] }
    if (entries.length === 1) {
      const [only] = entries
      const out = await this.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.resources.queueUrl,
          MessageBody: JSON.stringify(only!.task),
        }),
      )
      result.sent.push({ id: only!.id, messageId: out.MessageId ?? '' })
      return result
    }
    for (let i = 0; i < entries.length; i += SQS_MAX_BATCH) {
      const chunk = entries.slice(i, i + SQS_MAX_BATCH)
      const out = await this.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.resources.queueUrl,
          Entries: chunk.map((e) => ({ Id: e.id, MessageBody: JSON.stringify(e.task) })),
        }),
      )
      for (const ok of out.Successful ?? []) result.sent.push({ id: ok.Id!, messageId: ok.MessageId ?? '' })
      for (const bad of out.Failed ?? [])
        result.failed.push({ id: bad.Id!, code: bad.Code ?? 'Unknown', message: bad.Message ?? '' })
    }
    return result
  }

  runProgress(
    campaignId: string,
    contactPrefix: string,
    since: Date,
    sentAt: Map<string, number>,
  ): Promise<RunProgress> {
    return this.data.runProgress(campaignId, contactPrefix, since, sentAt)
  }

  // ---- health
  ping(): Promise<Reachability> {
    return this.data.ping()
  }
  recentOutcomes(minutes: number): Promise<OutcomeCount[]> {
    return this.data.recentOutcomes(minutes)
  }

  async controllerInputs(): Promise<ControllerInputs> {
    let cpuPercent: number | null = null
    const { workerClusterName, workerServiceName } = this.resources
    if (workerClusterName && workerServiceName) {
      const values = await this.metricData(
        [
          {
            Id: 'cpu',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/ECS',
                MetricName: 'CPUUtilization',
                Dimensions: [
                  { Name: 'ClusterName', Value: workerClusterName },
                  { Name: 'ServiceName', Value: workerServiceName },
                ],
              },
              Period: 60,
              Stat: 'Average',
            },
          },
        ],
        5,
      )
      cpuPercent = values.cpu ?? null
    }
    // Call outcomes are recorded in the stage's PostgreSQL: the answer rate comes from there,
    // the same query as on the local stack.
    const answers = await this.data.answerRate(5)
    return { cpuPercent, ...answers, at: this.now().toISOString() }
  }

  async alarms(): Promise<Alarm[]> {
    const alarms: Alarm[] = []
    let NextToken: string | undefined
    do {
      const out = await this.clients.cloudwatch.send(
        new DescribeAlarmsCommand({
          StateValue: 'ALARM',
          ...(this.resources.alarmPrefix ? { AlarmNamePrefix: this.resources.alarmPrefix } : {}),
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

  /** Latest value of each query over the last `minutes` (CloudWatch returns newest first). */
  private async metricData(queries: MetricDataQuery[], minutes: number): Promise<Record<string, number>> {
    const EndTime = this.now()
    const StartTime = new Date(EndTime.getTime() - minutes * 60_000)
    const out = await this.clients.cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime,
        EndTime,
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

  async close(): Promise<void> {
    await this.data.close()
    for (const c of Object.values(this.clients)) (c as { destroy(): void }).destroy()
  }
}
