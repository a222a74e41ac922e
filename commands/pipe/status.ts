import { ControlCommand } from '../../src/cli/control-command.js'
import { ExitCode } from '../../src/exit-codes.js'
import { colors, duration, keyValues } from '../../src/cli/render.js'
import { pipeHealth, type Health } from '../../src/control/health.js'
import type { PipeDescription, PipeMetrics, QueueDepth } from '../../src/control/port.js'

export interface PipeStatusResult {
  stage: string
  pipe: PipeDescription
  queue: QueueDepth
  dlq: QueueDepth
  metrics: PipeMetrics
  health: Health
}

export default class PipeStatus extends ControlCommand<typeof PipeStatus> {
  static override summary = 'Show the pipe: state, configuration, queue and DLQ depth, recent executions'
  static override description =
    'Exit code 0 when the pipe is healthy, 3 when it is not (not RUNNING, failed executions above 5% in the last 5 minutes, or messages waiting over 5 minutes while it runs), so a runbook can branch on it.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --stage prod --json',
    '<%= config.bin %> <%= command.id %> || echo "pipe unhealthy"',
  ]

  async run(): Promise<PipeStatusResult> {
    const plane = await this.control()
    const [pipe, queue, dlq, metrics] = await Promise.all([
      plane.describePipe(),
      plane.queueDepth(),
      plane.dlqDepth(),
      plane.pipeMetrics(5),
    ])
    const health = pipeHealth(pipe, metrics, queue, dlq)
    const c = colors()
    const state = pipe.state === 'RUNNING' ? c.green(pipe.state) : c.red(pipe.state)
    this.log(
      keyValues([
        ['Pipe', `${pipe.name} (${plane.stage})`],
        [
          'State',
          `${state}  desired ${pipe.desiredState}${pipe.stateReason ? `  ${c.yellow(pipe.stateReason)}` : ''}`,
        ],
        ['Source', pipe.source],
        ['Filter', pipe.filter ?? '—'],
        ['Batch', `${pipe.batchSize ?? '—'} messages / ${pipe.batchWindowSeconds ?? '—'} s window`],
        ['Enrichment', pipe.enrichment ?? '—'],
        ['Target', pipe.target || '—'],
        [
          'Queue',
          `${queue.visible} visible, ${queue.inFlight} in flight, oldest ${duration(queue.oldestAgeSeconds)}`,
        ],
        ['DLQ', `${dlq.visible + dlq.inFlight} messages`],
        ['Last 5 min', `${metrics.executions} executions, ${metrics.failures} failed`],
        ['Health', health.healthy ? c.green('healthy') : c.red(`UNHEALTHY: ${health.problems.join('; ')}`)],
        ...(health.warnings.length ? ([['Note', health.warnings.join('; ')]] as [string, string][]) : []),
      ]),
    )
    const result = { stage: plane.stage, pipe, queue, dlq, metrics, health }
    if (!health.healthy) {
      if (this.jsonEnabled()) this.logJson(result)
      this.exit(ExitCode.Unhealthy)
    }
    return result
  }
}
