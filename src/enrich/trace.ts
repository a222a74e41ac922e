import { callIdFor, type EnrichedDialTask } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import { formatTraceHeader, type TraceContext } from '../tracing/context.js'
import { recordTiming } from '../tracing/sqs-record.js'
import type { SpanAttributes, Tracer } from '../tracing/tracer.js'
import type { EnricherDeps } from './enrich-batch.js'

/** When enrich's phases ran, epoch ms. */
export interface EnrichTimes {
  startMs: number
  /** the batch's lookup (one SELECT) */
  lookup?: [number, number]
  /** the contact moves and outcome rows (run together) */
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
 * Runs one enrich batch traced: its statements timed through a wrapped pool, its drops read from
 * the `onDropped` hook, then each task's spans recorded (traceEnrichBatch). enrich-batch.ts
 * itself carries no tracing code; with tracing off createEnricher calls it directly.
 */
export async function traceEnrich(
  batch: unknown,
  deps: EnricherDeps,
  tracer: Tracer,
  enrich: (batch: unknown, deps: EnricherDeps) => Promise<EnrichedDialTask[]>,
): Promise<EnrichedDialTask[]> {
  const startMs = Date.now()
  const statements: { select: boolean; at: [number, number] }[] = []
  let drops: TaskOutcome[] = []
  const kept = await enrich(batch, {
    ...deps,
    db: timedDb(deps.db, statements),
    onDropped: (outcomes) => {
      drops = outcomes
      deps.onDropped?.(outcomes)
    },
  })
  if (!Array.isArray(batch)) return kept
  const span = (list: [number, number][]): [number, number] | undefined =>
    list.length ? [Math.min(...list.map((s) => s[0])), Math.max(...list.map((s) => s[1]))] : undefined
  const lookup = span(statements.filter((s) => s.select).map((s) => s.at))
  const writes = span(statements.filter((s) => !s.select).map((s) => s.at))
  const times: EnrichTimes = {
    startMs,
    endMs: Date.now(),
    ...(lookup ? { lookup } : {}),
    ...(writes ? { writes } : {}),
  }
  traceEnrichBatch(tracer, batch, fatesOf(batch, kept, drops), times, deps.traceFallback?.())
  return kept
}

/** The pool, recording when each statement ran and whether it was a read. */
function timedDb(db: Db, into: { select: boolean; at: [number, number] }[]): Db {
  return new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown
      if (property !== 'query' || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value
      return (...args: unknown[]) => {
        const started = Date.now()
        const first = args[0] as string | { text?: string }
        const sql = (typeof first === 'string' ? first : (first?.text ?? '')).trimStart()
        const done = () => into.push({ select: /^select/i.test(sql), at: [started, Date.now()] })
        const result = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        return result.finally(done)
      }
    },
  })
}

/** Each record's fate: kept (by its messageId) or dropped with the recorded reason. */
function fatesOf(batch: readonly unknown[], kept: EnrichedDialTask[], drops: TaskOutcome[]): EnrichFate[] {
  const keptById = new Map(kept.map((k) => [k.messageId, k]))
  const dropById = new Map(drops.flatMap((d) => (d.messageId ? [[d.messageId, d]] : [])))
  return batch.flatMap((raw, index): EnrichFate[] => {
    const id = (raw as { messageId?: unknown } | null)?.messageId
    if (typeof id !== 'string') return []
    const k = keptById.get(id)
    if (k) return [{ index, task: k, kept: k }]
    const d = dropById.get(id)
    if (!d) return []
    const task =
      d.campaignId && d.contactId && d.attempt !== undefined
        ? { task: { campaignId: d.campaignId, contactId: d.contactId, attempts: d.attempt } }
        : {}
    return [{ index, ...task, ...(d.reason ? { reason: d.reason } : {}) }]
  })
}

/**
 * Records each task's spans of one enrich batch — queued (sent → left the queue), received (the
 * pipe's batch window, with the receive count), enriched (this batch, kept or dropped and why)
 * with its PostgreSQL statements — and hands each kept task its trace header, so the dialer's
 * spans join the same trace.
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
