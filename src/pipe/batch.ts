import type pg from 'pg'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import type { Logger } from '../observability/logger.js'
import { recordTaskOutcomes } from '../outcomes/task-outcomes.js'
import type { QueueMessage, QueuePort } from '../queue/port.js'
import { bestEffort, errorMessage } from '../errors.js'
import type { PipeCounterBuffer } from './counter-buffer.js'
import { sqsFilterEvent } from './pattern.js'
import { pipeOutcome, retryWithBackoff, toPipeRecord, type PipeRecord } from './records.js'
import { recordPipeError, type PipeCounters } from './state.js'

export interface BatchItemFailure {
  itemIdentifier: string
}
export interface TargetResult {
  batchItemFailures?: BatchItemFailure[]
}

/** Returns the items to send on; an item that is null (or whose record is missing) is dropped and deleted. */
export type PipeEnrichment<E> = (records: PipeRecord[]) => Promise<(E | null | undefined)[]>
export type PipeTarget<E> = (events: E[]) => Promise<TargetResult | void | null | undefined>

const TargetResultSchema = z
  .object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string() })).optional() })
  .loose()
  .nullish()

/** What one batch's trip through the pipe needs from the pipe that runs it (src/pipe/local-pipe.ts). */
export interface PipeBatchOptions<E> {
  name: string
  /** for task outcomes (`filtered`) and the pipe's last error */
  pool: pg.Pool
  source: QueuePort
  /** the SQS queue ARN the records name as their eventSourceARN */
  arn: string
  /** the compiled filter: true keeps the record */
  match: (event: unknown) => boolean
  enrich?: PipeEnrichment<E>
  target: PipeTarget<E>
  /** failed messages come back after base × 2^(receiveCount−1) s, at most max */
  backoff: { baseSeconds: number; maxSeconds: number }
  counters: PipeCounterBuffer
  log: Logger
}

/**
 * One batch through an EventBridge Pipe's stages, as the local pipe runs it: filter (non-matching
 * messages deleted, recorded `filtered`), enrichment (dropped messages deleted), target with
 * Lambda's partial batch response (what succeeded deleted, failures left to reappear with
 * backoff). A thrown enrichment or target error fails the whole batch the same way.
 */
export class PipeBatch<E> {
  constructor(private readonly options: PipeBatchOptions<E>) {}

  /** One batch through filter → enrichment → target; returns how many messages failed. */
  async process(messages: QueueMessage[]): Promise<number> {
    const counters: Partial<PipeCounters> = { messagesReceived: messages.length }
    const kept = await this.filterPhase(
      messages.map((m) => toPipeRecord(m, this.options.arn)),
      counters,
    )
    if (kept.length === 0) {
      this.options.counters.add(counters)
      return 0
    }
    counters.executions = 1
    let sent: PipeRecord[] = kept
    try {
      const enriched = await this.enrichPhase(kept)
      sent = enriched.sent
      if (enriched.dropped.length > 0) {
        // enrich records why (campaign paused / not found); the pipe only removes them from the queue
        await this.deleteRecords(enriched.dropped)
        counters.messagesDropped = enriched.dropped.length
      }
      if (enriched.events.length === 0) {
        this.options.counters.add(counters)
        return 0
      }
      await this.targetPhase(enriched.events, sent, counters)
    } catch (error) {
      counters.failedExecutions = 1
      counters.messagesFailed = sent.length
      this.options.log.error('pipe batch failed; its messages will be retried', {
        pipe: this.options.name,
        messages: sent.length,
        error: errorMessage(error),
      })
      await bestEffort(
        recordPipeError(this.options.pool, this.options.name, error),
        'the error is logged above; PostgreSQL may be the thing that failed',
      )
      await this.retryLater(sent)
    }
    this.options.counters.add(counters)
    return counters.messagesFailed ?? 0
  }

  /** Phase 1: the filter; records it does not match are deleted, with a `filtered` outcome. */
  private async filterPhase(records: PipeRecord[], counters: Partial<PipeCounters>): Promise<PipeRecord[]> {
    const kept: PipeRecord[] = []
    const filtered: PipeRecord[] = []
    for (const r of records) (this.options.match(sqsFilterEvent(r as never)) ? kept : filtered).push(r)
    if (filtered.length > 0) {
      await this.deleteRecords(filtered)
      await recordTaskOutcomes(
        this.options.pool,
        filtered.map((r) => pipeOutcome(r, 'filter', 'filtered', 'did not match the pipe filter')),
      )
      counters.messagesFiltered = filtered.length
    }
    return kept
  }

  /**
   * Phase 2: enrichment (when set). @returns the target's events, the records they came from,
   * and the records enrichment returned no item for (dropped).
   * @throws Error when the output is not a list or an item has no messageId (the batch fails)
   */
  private async enrichPhase(
    kept: PipeRecord[],
  ): Promise<{ events: E[]; sent: PipeRecord[]; dropped: PipeRecord[] }> {
    if (!this.options.enrich) return { events: kept as unknown as E[], sent: kept, dropped: [] }
    const out = await this.options.enrich(kept)
    if (!Array.isArray(out))
      throw new Error(`enrichment returned ${typeof out}, not a list; return one item (or null) per record`)
    const items = out.filter((x): x is E => x !== null && x !== undefined)
    const ids = new Set<string>()
    items.forEach((item, i) => {
      const id = (item as { messageId?: unknown })?.messageId
      if (typeof id !== 'string')
        throw new Error(
          `enrichment output item #${i} has no messageId; each item must carry its source record's messageId`,
        )
      ids.add(id)
    })
    return {
      events: items,
      sent: kept.filter((r) => ids.has(r.messageId)),
      dropped: kept.filter((r) => !ids.has(r.messageId)),
    }
  }

  /**
   * Phase 3: the target, with Lambda's partial batch response: the failed records are retried
   * later, the rest deleted. @throws Error on an invalid result or an unknown itemIdentifier
   */
  private async targetPhase(events: E[], sent: PipeRecord[], counters: Partial<PipeCounters>): Promise<void> {
    const parsed = TargetResultSchema.safeParse(await this.options.target(events))
    if (!parsed.success)
      throw new Error(
        `target returned an invalid result: ${describeZodError(parsed.error)}; return {batchItemFailures: [...]}`,
      )
    const failedIds = new Set((parsed.data?.batchItemFailures ?? []).map((f) => f.itemIdentifier))
    const unknown = [...failedIds].filter((id) => !sent.some((r) => r.messageId === id))
    if (unknown.length > 0)
      // Lambda's rule: an itemIdentifier that is not in the batch fails the whole batch
      throw new Error(`target reported failures for unknown itemIdentifier(s) ${unknown.join(', ')}`)
    const failed = sent.filter((r) => failedIds.has(r.messageId))
    const succeeded = sent.filter((r) => !failedIds.has(r.messageId))
    await this.deleteRecords(succeeded)
    await this.retryLater(failed)
    counters.messagesSucceeded = succeeded.length
    counters.messagesFailed = failed.length
  }

  private async deleteRecords(records: PipeRecord[]): Promise<void> {
    if (records.length === 0) return
    const source = this.options.source as QueuePort & { deleteBatch?: (handles: string[]) => Promise<number> }
    if (source.deleteBatch) await source.deleteBatch(records.map((r) => r.receiptHandle))
    else await Promise.all(records.map((r) => source.delete(r.receiptHandle)))
  }

  private async retryLater(records: PipeRecord[]): Promise<void> {
    await retryWithBackoff(this.options.source, records, this.options.backoff, (r, error) =>
      // handle no longer current (visibility expired, received again): the queue already retries it
      this.options.log.warn('could not delay a failed message', {
        pipe: this.options.name,
        messageId: r.messageId,
        error,
      }),
    )
  }
}
