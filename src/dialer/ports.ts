import { sleep } from '../clock.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import { createOutcomeWriter } from '../outcomes/task-outcomes.js'
import type { Db } from '../db/pool.js'
import type { MetricName } from '../observability/metrics.js'
import { SQS_MAX_BATCH, SQS_MAX_DELAY_SECONDS, type QueuePort } from '../queue/port.js'

/** Pipes' partial batch response: the listed messages are retried, the others deleted. */
export interface DialerResponse {
  batchItemFailures: { itemIdentifier: string }[]
}

/** Writes task outcomes; the PostgreSQL one inserts a whole batch in one statement. */
export interface OutcomeRecorder {
  record(outcomes: TaskOutcome[]): Promise<void>
}

/** Retries with backoff under pool exhaustion; what still fails is kept for the next batch (createOutcomeWriter). */
export function createPgOutcomeRecorder(db: Db, retryDelaysMs?: readonly number[]): OutcomeRecorder {
  const writer = createOutcomeWriter(db, retryDelaysMs ? { retryDelaysMs } : {})
  return { record: (outcomes) => writer.record(outcomes) }
}

/** The slice of Powertools Metrics the dialer uses (EMF); tests pass an in-memory one. */
export interface MetricsPort {
  addMetric(name: MetricName, unit: 'Count' | 'Count/Second', value: number): unknown
}

export type Sleep = (ms: number) => Promise<void>
export const realSleep: Sleep = (ms) => sleep(ms)

/** One deferred task going back to the dial-tasks queue. */
export interface RequeueEntry {
  /** 1–80 of A-Z a-z 0-9 - _ (SQS batch entry id) */
  id: string
  /** the DialTask body, as the queue carried it */
  body: string
  /** whole seconds, 0–900 (SQS DelaySeconds) */
  delaySeconds: number
  /** the re-sent message's trace header (the deferral's span as parent), while tracing */
  traceHeader?: string
}

/**
 * Re-sends deferred tasks to the dial-tasks queue with a delay. The dialer then reports them as
 * handled, so the pipe deletes the received copies: together that is QueuePort.defer (send,
 * then delete), split because only the pipe holds the receipt handles.
 */
export interface TaskRequeue {
  /** resolves with the ids whose send failed (those stay retries); rejects if nothing could be sent */
  requeue(entries: RequeueEntry[]): Promise<{ failed: string[] }>
}

/** The requeue port over any QueuePort (SQS on AWS, the PostgreSQL queue locally): batches of 10. */
export function queueRequeue(queue: Pick<QueuePort, 'sendBatch'>): TaskRequeue {
  return {
    async requeue(entries) {
      const chunks: RequeueEntry[][] = []
      for (let i = 0; i < entries.length; i += SQS_MAX_BATCH) chunks.push(entries.slice(i, i + SQS_MAX_BATCH))
      const results = await Promise.allSettled(chunks.map((chunk) => queue.sendBatch(chunk)))
      const failed: string[] = []
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') failed.push(...r.value.failed.map((f) => f.id))
        else failed.push(...chunks[i]!.map((e) => e.id))
      })
      return { failed }
    },
  }
}

/**
 * A deferral delay in SQS terms: whole seconds, to the nearest (≤ 900). A task back up to
 * 0.5 s before its slot is within the limiter's 1 s horizon and is admitted at the slot; rounding
 * up would waste up to a second of every deferral.
 */
export function delaySecondsFor(ms: number): number {
  return Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, Math.round(ms / 1000)))
}
