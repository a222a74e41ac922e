import { callIdFor, type EnrichedDialTask } from '../contracts/index.js'
import { formatTraceHeader, type TraceContext } from '../tracing/context.js'
import { recordTiming } from '../tracing/sqs-record.js'
import type { SpanAttributes, Tracer } from '../tracing/tracer.js'

/** When enrich's phases ran, epoch ms; taken only while tracing is on. */
export interface EnrichTimes {
  startMs: number
  lookup?: [number, number]
  writes?: [number, number]
  endMs: number
}

/** What became of one record of the batch. */
export interface EnrichFate {
  index: number
  task?: { campaignId: string; contactId: string; attempts: number }
  kept?: EnrichedDialTask
  reason?: string
}

/**
 * Records each task's spans of one enrich batch — queued (sent → left the queue), received (the
 * pipe's batch window, with the receive count), enriched (this batch, kept or dropped and why)
 * with its PostgreSQL statements — and hands each kept task its trace header, so the dialer's
 * spans join the same trace. Spans are recorded after the fact from `times`, so enrich's own code
 * only reads the clock while tracing is on.
 */
export function traceEnrichBatch(
  tracer: Tracer,
  batch: readonly unknown[],
  fates: readonly EnrichFate[],
  times: EnrichTimes,
  fallback?: TraceContext,
): void {
  for (const fate of fates) {
    const timing = recordTiming(batch[fate.index], times.startMs, fallback)
    const ids: SpanAttributes = fate.task
      ? {
          callId: callIdFor(fate.task),
          campaignId: fate.task.campaignId,
          contactId: fate.task.contactId,
          attempt: fate.task.attempts,
        }
      : {}
    const queued = tracer.record('queued', timing.ctx, timing.sentMs, timing.receivedMs, ids)
    const received = tracer.record('received', queued, timing.receivedMs, times.startMs, {
      ...ids,
      receiveCount: timing.receiveCount,
    })
    const enriched = tracer.record('enriched', received, times.startMs, times.endMs, {
      ...ids,
      status: fate.kept ? 'kept' : 'dropped',
      ...(fate.reason ? { reason: fate.reason.split(':')[0] } : {}),
    })
    const batchSize = batch.length
    if (times.lookup)
      tracer.record('postgres', enriched, times.lookup[0], times.lookup[1], { query: 'lookup', batchSize })
    if (times.writes)
      tracer.record('postgres', enriched, times.writes[0], times.writes[1], { query: 'record', batchSize })
    if (fate.kept) fate.kept.traceHeader = formatTraceHeader(enriched)
  }
}
