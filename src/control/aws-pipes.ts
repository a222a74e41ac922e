import { DescribePipeCommand, StartPipeCommand, StopPipeCommand } from '@aws-sdk/client-pipes'
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import type { PipesClient } from '@aws-sdk/client-pipes'
import { AwsMetric, customMetric, MetricName } from '../observability/metrics.js'
import { latestMetricValues, metricQuery } from './aws-cloudwatch.js'
import type { PipeDescription, PipeMetrics } from './port.js'

/** The dial-tasks pipe of a deployed stage (EventBridge Pipes + its CloudWatch metrics). */
export class AwsPipe {
  constructor(
    private readonly pipes: PipesClient,
    private readonly cloudwatch: CloudWatchClient,
    private readonly names: { pipeName: string; queueArn: string },
    /** the stage whose dialer metrics (namespace Dialctl/<stage>) are read with the pipe's */
    private readonly stage: string,
    private readonly now: () => Date,
  ) {}

  async describe(): Promise<PipeDescription> {
    const { pipeName, queueArn } = this.names
    const out = await this.pipes.send(new DescribePipeCommand({ Name: pipeName }))
    const sqs = out.SourceParameters?.SqsQueueParameters
    const filter = out.SourceParameters?.FilterCriteria?.Filters?.map((f) => f.Pattern)
      .filter(Boolean)
      .join(' OR ')
    return {
      name: out.Name ?? pipeName,
      state: out.CurrentState ?? 'UNKNOWN',
      desiredState: out.DesiredState ?? 'UNKNOWN',
      ...(out.StateReason ? { stateReason: out.StateReason } : {}),
      source: out.Source ?? queueArn,
      ...(filter ? { filter } : {}),
      ...(sqs?.BatchSize !== undefined ? { batchSize: sqs.BatchSize } : {}),
      ...(sqs?.MaximumBatchingWindowInSeconds !== undefined
        ? { batchWindowSeconds: sqs.MaximumBatchingWindowInSeconds }
        : {}),
      ...(out.Enrichment ? { enrichment: out.Enrichment } : {}),
      target: out.Target ?? '',
    }
  }

  async start(): Promise<PipeDescription> {
    await this.pipes.send(new StartPipeCommand({ Name: this.names.pipeName }))
    return this.describe()
  }

  async stop(): Promise<PipeDescription> {
    await this.pipes.send(new StopPipeCommand({ Name: this.names.pipeName }))
    return this.describe()
  }

  /**
   * Executions (`Invocations`, Pipes' documented count) and `ExecutionFailed` over the window, and
   * the dialer's `DialedTasks` and `WorkerDeferrals` (what health needs to tell a refusing worker).
   */
  async metrics(windowMinutes: number): Promise<PipeMetrics> {
    const p = AwsMetric.pipes
    const metric = (name: string) => ({
      namespace: p.namespace,
      name,
      dimensions: { [p.dimension]: this.names.pipeName },
    })
    const values = await latestMetricValues(
      this.cloudwatch,
      [
        metricQuery('executions', metric(p.Invocations), windowMinutes * 60, 'Sum'),
        metricQuery('failures', metric(p.ExecutionFailed), windowMinutes * 60, 'Sum'),
        metricQuery('dialed', customMetric(this.stage, MetricName.DialedTasks), windowMinutes * 60, 'Sum'),
        metricQuery(
          'workerDeferrals',
          customMetric(this.stage, MetricName.WorkerDeferrals),
          windowMinutes * 60,
          'Sum',
        ),
      ],
      windowMinutes,
      this.now(),
    )
    return {
      windowMinutes,
      executions: values.executions ?? 0,
      failures: values.failures ?? 0,
      dialed: values.dialed ?? 0,
      workerDeferrals: values.workerDeferrals ?? 0,
    }
  }
}
