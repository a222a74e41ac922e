import type { Db } from '../db/pool.js'
import { maskForTrace, type Span, type SpanSink } from './tracer.js'

/**
 * Spans into `trace_spans`, one INSERT per flush (the local stack's trace store).
 *
 * `call_id` holds the call id unmasked (Span.callId): a lookup key in our own PostgreSQL, like
 * `call_attempts.call_id`, beside the `contacts` rows that hold the numbers themselves. It is never
 * printed: `readTimeline` hands the id back masked and `attributes` (the span's metadata, which is
 * also what X-Ray receives) stays masked, so a call id built from a phone number reaches no output
 * (issue #19: no phone numbers in span names, annotations or metadata).
 */
export function createPgSpanSink(db: Db): SpanSink {
  return {
    async export(spans) {
      if (spans.length === 0) return
      await db.query(
        `INSERT INTO trace_spans (trace_id, span_id, parent_id, name, call_id, started_at, ended_at, attributes)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::timestamptz[], $7::timestamptz[], $8::jsonb[])
         ON CONFLICT DO NOTHING`,
        [
          spans.map((s) => s.traceId),
          spans.map((s) => s.spanId),
          spans.map((s) => s.parentId ?? null),
          spans.map((s) => s.name),
          spans.map((s) => s.callId ?? s.attributes.callId ?? null),
          spans.map((s) => new Date(s.startMs).toISOString()),
          spans.map((s) => new Date(s.endMs).toISOString()),
          spans.map((s) => JSON.stringify(s.attributes)),
        ],
      )
    },
  }
}

export interface TimelineRow {
  name: Span['name']
  spanId: string
  /** the span this one is a child of (absent for the trace's first span) */
  parentId?: string
  /** ISO time the stage started */
  at: string
  /** ms from the first span of the trace to this one's start */
  offsetMs: number
  /** time spent in this stage, ms */
  durationMs: number
  attributes: Record<string, unknown>
}

export interface Timeline {
  /** the call id asked for, masked for display (maskPhonesIn) */
  callId: string
  traceIds: string[]
  rows: TimelineRow[]
}

/**
 * The timeline of one task: every span of the trace(s) that mention `callId`, oldest first.
 * A task deferred and re-sent keeps its trace (the re-sent message carries the header), so one
 * call id usually has one trace; redeliveries show as repeated `received` rows.
 */
export async function readTimeline(db: Db, callId: string): Promise<Timeline> {
  const { rows } = await db.query<{
    trace_id: string
    span_id: string
    parent_id: string | null
    name: Span['name']
    started_at: Date
    ended_at: Date
    attributes: Record<string, unknown>
  }>(
    `SELECT trace_id, span_id, parent_id, name, started_at, ended_at, attributes FROM trace_spans
      WHERE trace_id IN (SELECT DISTINCT trace_id FROM trace_spans WHERE call_id = $1)
      ORDER BY started_at, ended_at`,
    [callId],
  )
  const first = rows[0]?.started_at.getTime() ?? 0
  return {
    callId: maskForTrace(callId),
    traceIds: [...new Set(rows.map((r) => r.trace_id))],
    rows: rows.map((r) => ({
      name: r.name,
      spanId: r.span_id,
      ...(r.parent_id ? { parentId: r.parent_id } : {}),
      at: r.started_at.toISOString(),
      offsetMs: r.started_at.getTime() - first,
      durationMs: r.ended_at.getTime() - r.started_at.getTime(),
      attributes: r.attributes,
    })),
  }
}
