import { maskPhonesIn } from '../observability/mask.js'
import { childContext, newSpanId, newTraceRoot, type TraceContext } from './context.js'

/**
 * The stages of one dial task, in the order they happen (issue #19's timeline). Before the dial
 * (queue → Lambdas) and after it (worker → Asterisk).
 */
export const SPAN_NAMES = [
  'queued',
  'received',
  'enriched',
  'admitted',
  'deferred',
  'dial-request',
  'claimed',
  'originated',
  'answered',
  'playback',
  'digit',
  'action',
  'ended',
] as const
export type SpanName = (typeof SPAN_NAMES)[number]

/**
 * What a span may say about itself. A closed list, so nothing carries a phone number by accident:
 * there is no `phoneNumber` key, and every string is masked again on the way out.
 */
export interface SpanAttributes {
  callId?: string
  campaignId?: string
  contactId?: string
  attempt?: number
  /** SQS ApproximateReceiveCount of this delivery */
  receiveCount?: number
  /** tasks the limiter admitted in this batch call */
  admitted?: number
  /** how long the task waited for its limiter slot, ms */
  slotWaitMs?: number
  /** deferral: when the task becomes visible again, ms from now */
  deferredMs?: number
  status?: string
  reason?: string
  digit?: string
  action?: string
  hangupCause?: number
  endedBy?: string
  httpStatus?: number
}

export interface Span {
  name: SpanName
  traceId: string
  spanId: string
  parentId?: string
  /** epoch ms */
  startMs: number
  /** epoch ms */
  endMs: number
  /** masked (see safe): what sinks may print or send on (X-Ray annotations, the timeline's rows) */
  attributes: SpanAttributes
  /**
   * The call id unmasked: the local trace store's lookup key (trace_spans.call_id) and nothing
   * else — a masked key would make `readTimeline(realCallId)` find nothing (issue #15 review F2).
   */
  callId?: string
}

/** Where finished spans go: PostgreSQL on the local stack, the X-Ray daemon on AWS. */
export interface SpanSink {
  export(spans: readonly Span[]): Promise<void>
}

export interface Tracer {
  /**
   * Runs `fn` as span `name`, a child of `parent` (a new trace when undefined). `fn` gets the
   * context to hand on (its span as parent) and may add attributes. The span is recorded whether
   * `fn` resolves or throws; tracing never changes what `fn` returns or throws.
   */
  span<T>(
    name: SpanName,
    parent: TraceContext | undefined,
    attributes: SpanAttributes,
    fn: (ctx: TraceContext, annotate: (more: SpanAttributes) => void) => Promise<T>,
  ): Promise<T>
  /** Records a span that already happened (e.g. time spent in the queue); returns its context. */
  record(
    name: SpanName,
    parent: TraceContext | undefined,
    startMs: number,
    endMs: number,
    attributes?: SpanAttributes,
  ): TraceContext
  /** Exports what is buffered; the Lambdas call it in `finally`, like metrics. Never throws. */
  flush(): Promise<void>
}

/** The span's lookup key, kept raw beside the masked attributes (Span.callId). */
function keyOf(attributes: SpanAttributes): { callId?: string } {
  return attributes.callId === undefined ? {} : { callId: attributes.callId }
}

/** Masks every string attribute: ids can be phone numbers (CRM exports use the number as id). */
function safe(attributes: SpanAttributes): SpanAttributes {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue
    out[key] = typeof value === 'string' ? maskPhonesIn(value) : value
  }
  return out as SpanAttributes
}

export interface TracerOptions {
  sink: SpanSink
  now?: () => number
  /** reports an export failure; tracing is best-effort and never fails a dial */
  onExportError?: (error: unknown) => void
}

/** A tracer that buffers spans and exports them on `flush()`. */
export function createTracer(options: TracerOptions): Tracer {
  const now = options.now ?? Date.now
  let buffer: Span[] = []
  const push = (
    name: SpanName,
    parent: TraceContext | undefined,
    startMs: number,
    endMs: number,
    attributes: SpanAttributes,
  ): TraceContext => {
    const ctx = parent ?? { root: newTraceRoot(startMs), sampled: true }
    const spanId = newSpanId()
    if (ctx.sampled)
      buffer.push({
        name,
        traceId: ctx.root,
        spanId,
        ...(ctx.parent ? { parentId: ctx.parent } : {}),
        startMs,
        endMs,
        attributes: safe(attributes),
        ...keyOf(attributes),
      })
    return childContext(ctx, spanId)
  }
  return {
    async span(name, parent, attributes, fn) {
      const startMs = now()
      const ctx = parent ?? { root: newTraceRoot(startMs), sampled: true }
      const spanId = newSpanId()
      let extra: SpanAttributes = {}
      const annotate = (more: SpanAttributes): void => {
        extra = { ...extra, ...more }
      }
      try {
        return await fn(childContext(ctx, spanId), annotate)
      } finally {
        if (ctx.sampled)
          buffer.push({
            name,
            traceId: ctx.root,
            spanId,
            ...(ctx.parent ? { parentId: ctx.parent } : {}),
            startMs,
            endMs: now(),
            attributes: safe({ ...attributes, ...extra }),
            ...keyOf({ ...attributes, ...extra }),
          })
      }
    },
    record: (name, parent, startMs, endMs, attributes = {}) => push(name, parent, startMs, endMs, attributes),
    async flush() {
      if (buffer.length === 0) return
      const spans = buffer
      buffer = []
      try {
        await options.sink.export(spans)
      } catch (error) {
        options.onExportError?.(error)
      }
    },
  }
}

/** Tracing off: same interface, records nothing (the default where no sink is configured). */
export const NO_TRACER: Tracer = {
  span: (_name, parent, _attributes, fn) =>
    fn(parent ?? { root: newTraceRoot(), sampled: false }, () => undefined),
  record: (_name, parent) => parent ?? { root: newTraceRoot(), sampled: false },
  flush: async () => undefined,
}
