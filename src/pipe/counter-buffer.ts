import type { Db } from '../db/pool.js'
import { addPipeCounters, ZERO_COUNTERS, type PipeCounters } from './state.js'

/**
 * Coalesces a pipe's per-batch counters into one `pipe_metrics` upsert per interval.
 *
 * Why: the upsert was one statement per batch on the pipe's hot path (issue #17); summed counters
 * give the same totals. The cost is that a batch's counts reach PostgreSQL up to `intervalMs`
 * later, so they may land in the next minute's row when a batch ends just before a minute turns
 * (`pipe status` shows a 5-minute window, so totals are unaffected).
 *
 * flush() writes what is pending now; LocalPipe calls it on close, after in-flight batches drained,
 * so a stopped pipe's counters are exact. A failed write keeps the counts for the next flush.
 */
export class PipeCounterBuffer {
  private pending: PipeCounters = { ...ZERO_COUNTERS }
  private hasPending = false
  private timer?: NodeJS.Timeout
  private writing: Promise<void> = Promise.resolve()

  /**
   * @param intervalMs how long counts may wait before they are written (ms)
   * @param onError called with the error when a write fails (the counts are kept and retried)
   */
  constructor(
    private readonly db: Db,
    private readonly pipe: string,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Adds one batch's counters; the write happens within intervalMs. */
  add(counters: Partial<PipeCounters>): void {
    for (const key of Object.keys(this.pending) as (keyof PipeCounters)[])
      this.pending[key] += counters[key] ?? 0
    this.hasPending = true
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs)
      this.timer.unref()
    }
  }

  /** Writes the pending counters now (one upsert); resolves when every earlier add is in PostgreSQL or has failed. */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    // writes are chained so two flushes never race on the same row out of order
    this.writing = this.writing.then(() => this.writePending())
    return this.writing
  }

  private async writePending(): Promise<void> {
    if (!this.hasPending) return
    const batch = this.pending
    this.pending = { ...ZERO_COUNTERS }
    this.hasPending = false
    try {
      await addPipeCounters(this.db, this.pipe, batch)
    } catch (error) {
      this.add(batch)
      this.onError(error)
    }
  }
}
