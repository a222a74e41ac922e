import { sleep } from '../clock.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import { createOutcomeWriter } from '../outcomes/task-outcomes.js'
import type { Db } from '../db/pool.js'
import type { MetricName } from '../observability/metrics.js'

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
