import { newTaskTraceHeader } from '../tracing/stamp.js'
import { readTimeline, type Timeline } from '../tracing/pg-sink.js'
import { DataBackedPlane } from './data-backed.js'
import type { DataPlane } from './data.js'
import type { LocalQueues, LocalPipe } from './local-modules.js'
import { SQS_MAX_BATCH } from '../queue/port.js'
import { pushRegistered } from './push.js'
import type {
  Alarm,
  ControllerInputs,
  ControlPlane,
  DlqMessage,
  PipeDescription,
  PipeMetrics,
  PushEntry,
  PushResult,
  QueueDepth,
  Reachability,
  RedriveStatus,
} from './port.js'

export const DEFAULT_WORKER_URL = 'http://127.0.0.1:8787'

/**
 * The part of the worker's GET /metrics the controller reads (zod at the HTTP boundary; loaded
 * here, on use, so that commands that never read it — `cps get` — do not load zod at start-up).
 */
async function parseWorkerMetrics(body: unknown): Promise<{ cpuPercent: number } | undefined> {
  const { z } = await import('zod')
  const parsed = z.object({ cpuPercent: z.number() }).safeParse(body)
  return parsed.success ? parsed.data : undefined
}

/**
 * The local stack (`dialctl dev`): the queue and the pipe are tables in the same PostgreSQL,
 * the worker is reachable over HTTP. No Lambda, no CloudWatch: what they provide on AWS comes
 * from the worker's metrics and the recorded outcomes.
 */
export class LocalControlPlane extends DataBackedPlane<DataPlane> implements ControlPlane {
  readonly kind = 'local' as const
  readonly stage = 'local'
  private queues?: LocalQueues
  private pipe?: LocalPipe

  constructor(
    data: DataPlane,
    readonly workerUrl: string = DEFAULT_WORKER_URL,
    /** the pipe `dialctl dev` registered; default DEFAULT_LOCAL_PIPE_NAME */
    private readonly pipeName?: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    super(data)
  }

  private async q(): Promise<LocalQueues> {
    // Loaded on first use: a Redis-only command (`cps get`) never loads the queue and pipe modules.
    return (this.queues ??= await (await import('./local-modules.js')).loadLocalQueues(this.data.pool))
  }
  private async p(): Promise<LocalPipe> {
    return (this.pipe ??= await (
      await import('./local-modules.js')
    ).loadLocalPipe(this.data.pool, this.pipeName))
  }

  async describePipe(): Promise<PipeDescription> {
    return (await this.p()).describe()
  }
  async pipeMetrics(windowMinutes: number): Promise<PipeMetrics> {
    return (await this.p()).metrics(windowMinutes)
  }
  async startPipe(): Promise<PipeDescription> {
    const pipe = await this.p()
    await pipe.setDesiredState('RUNNING')
    return pipe.describe()
  }
  async stopPipe(): Promise<PipeDescription> {
    const pipe = await this.p()
    await pipe.setDesiredState('STOPPED')
    return pipe.describe()
  }

  async queueDepth(): Promise<QueueDepth> {
    return (await this.q()).main.depth()
  }
  async dlqDepth(): Promise<QueueDepth> {
    return (await this.q()).dlq.depth()
  }
  async dlqList(limit: number): Promise<DlqMessage[]> {
    return (await this.q()).peekDlq(limit)
  }
  async dlqRedrive(options: { maxPerSecond?: number }): Promise<RedriveStatus> {
    // The local move runs inside this process, to the end (its progress is in PostgreSQL for
    // other terminals): `--wait` or not, the command returns when it is done.
    return (await this.q()).redrive(options.maxPerSecond)
  }
  async dlqRedriveStatus(): Promise<RedriveStatus | undefined> {
    return (await this.q()).lastRedrive()
  }
  async dlqPurge(): Promise<number> {
    return (await this.q()).dlq.purge()
  }

  traceTimeline(callId: string): Promise<Timeline> {
    return readTimeline(this.data.pool, callId)
  }

  pushTasks(entries: PushEntry[]): Promise<PushResult> {
    // The dial gate dials only contacts that exist: a pushed task brings its contact row.
    return pushRegistered(
      (e) => this.data.registerPushedContacts(e),
      (e) => this.sendTasks(e),
      entries,
    )
  }

  private async sendTasks(entries: PushEntry[]): Promise<PushResult> {
    const { main } = await this.q()
    const result: PushResult = { sent: [], failed: [] }
    for (let i = 0; i < entries.length; i += SQS_MAX_BATCH) {
      const chunk = entries.slice(i, i + SQS_MAX_BATCH)
      // each pushed task starts its trace (read with `dialctl trace CALL_ID` under `dev --trace`)
      const out = await main.sendBatch(
        chunk.map((e) => ({ id: e.id, body: JSON.stringify(e.task), traceHeader: newTaskTraceHeader() })),
      )
      result.sent.push(...out.successful)
      result.failed.push(...out.failed)
    }
    return result
  }

  override async ping(): Promise<Reachability> {
    const [data, worker] = await Promise.all([this.data.ping(), this.workerHealthy()])
    return { ...data, worker }
  }
  async controllerInputs(): Promise<ControllerInputs> {
    const answers = await this.data.answerRate(5)
    let cpuPercent: number | null = null
    try {
      const res = await fetch(new URL('/metrics', this.workerUrl), { signal: AbortSignal.timeout(2000) })
      if (res.ok) {
        const metrics = await parseWorkerMetrics(await res.json())
        if (metrics) cpuPercent = metrics.cpuPercent
      }
    } catch {
      // worker down: no CPU input; the controller decides on what it has (and says so)
    }
    return { cpuPercent, ...answers, at: this.now().toISOString() }
  }

  /** No CloudWatch locally: nothing is ever in ALARM (doctor's checks cover the same ground). */
  async alarms(): Promise<Alarm[]> {
    return []
  }

  async workerHealthy(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/health', this.workerUrl), { signal: AbortSignal.timeout(2000) })
      return res.ok
    } catch {
      return false
    }
  }
}
