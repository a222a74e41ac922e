import { z } from 'zod'
import { parseTraceHeader, type TraceContext } from './context.js'

/** The SQS system attributes of a pipe record that tracing reads (strings, as SQS gives them). */
const RecordAttributes = z
  .object({
    attributes: z
      .object({
        ApproximateReceiveCount: z.string().optional(),
        SentTimestamp: z.string().optional(),
        ApproximateFirstReceiveTimestamp: z.string().optional(),
        AWSTraceHeader: z.string().optional(),
      })
      .loose(),
  })
  .loose()

export interface RecordTiming {
  /** the task's trace (its message's AWSTraceHeader), else `fallback` */
  ctx: TraceContext | undefined
  /** epoch ms the message was sent (SentTimestamp) */
  sentMs: number
  /** epoch ms this delivery left the queue: the first receive for a first delivery, else `nowMs` */
  receivedMs: number
  receiveCount: number
}

/**
 * What one SQS record of a pipe batch tells about its task's trace and its time in the queue.
 * SQS gives only the first receive's time (ApproximateFirstReceiveTimestamp), so for a
 * redelivery the time of this receive is taken as `nowMs` (the enrichment's start).
 * `fallback` is the Lambda's own trace (its facade segment, `_X_AMZN_TRACE_ID`) for a message
 * sent without a header.
 */
export function recordTiming(raw: unknown, nowMs: number, fallback?: TraceContext): RecordTiming {
  const parsed = RecordAttributes.safeParse(raw)
  const a = parsed.success ? parsed.data.attributes : {}
  const receiveCount = Number(a.ApproximateReceiveCount ?? '1') || 1
  const sentMs = Math.min(nowMs, Number(a.SentTimestamp ?? nowMs) || nowMs)
  const first = Number(a.ApproximateFirstReceiveTimestamp ?? NaN)
  const receivedMs =
    receiveCount <= 1 && Number.isFinite(first) ? Math.min(nowMs, Math.max(sentMs, first)) : nowMs
  return { ctx: parseTraceHeader(a.AWSTraceHeader) ?? fallback, sentMs, receivedMs, receiveCount }
}
