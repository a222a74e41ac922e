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
  // the dialer's handling of the task in its batch (the pipe's target), parent of the next four
  'dialer',
  'admitted',
  'deferred',
  'dial-request',
  // a PostgreSQL statement of a stage (attribute `query` says which): enrich's lookup and
  // writes, the dialer's outcome rows
  'postgres',
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
  /** which statement a `postgres` span timed: lookup, record, outcomes */
  query?: string
  /** tasks in the batch the statement served (one statement serves the whole batch) */
  batchSize?: number
  /** the CPS limit the limiter applied, and how (redis, degraded) */
  limit?: number
  mode?: string
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

/** A span begun and not yet ended (see Tracer.open). */
export interface OpenSpan {
  /** the context to hand on: this span as parent */
  readonly ctx: TraceContext
  annotate(more: SpanAttributes): void
  /** records the span, ending now; later calls do nothing */
  end(more?: SpanAttributes): void
}

export interface Tracer {
  /** false for NO_TRACER: callers skip building attributes and contexts altogether */
  readonly enabled: boolean
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
  /**
   * Begins span `name` now (a child of `parent`, a new trace when undefined) and returns its
   * context at once, for work whose context must travel before it ends (a deferral's re-sent
   * message carries the deferral's own span as parent).
   */
  open(name: SpanName, parent: TraceContext | undefined, attributes?: SpanAttributes): OpenSpan
  /** Exports what is buffered; the Lambdas call it in `finally`, like metrics. Never throws. */
  flush(): Promise<void>
  /** Stops the periodic flush (if any) and flushes what is left. */
  close(): Promise<void>
}

/**
 * A string as spans may carry it: phone numbers masked (maskPhonesIn), and any other run of 7 or
 * more digits too, keeping the last two — ids can be phone numbers (CRM exports use the number as
 * contact id), and the call id escapes such an id into `call.c1._2b12125550147.0`, where no
 * number pattern sees it. The same function masks a call id looked up (readTimeline), so a trace
 * is found through Span.callId, the raw key, and shown masked.
 */
export function maskForTrace(text: string): string {
  return maskPhonesIn(text).replace(/\d{7,}/g, (run) => `${'*'.repeat(run.length - 2)}${run.slice(-2)}`)
}

/** The span's lookup key, kept raw beside the masked attributes (Span.callId). */
function keyOf(attributes: SpanAttributes): { callId?: string } {
  return attributes.callId === undefined ? {} : { callId: attributes.callId }
}

/** Masks every string attribute (see maskForTrace). */
function safe(attributes: SpanAttributes): SpanAttributes {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue
    out[key] = typeof value === 'string' ? maskForTrace(value) : value
  }
  return out as SpanAttributes
}

export interface TracerOptions {
  sink: SpanSink
  now?: () => number
  /** reports an export failure; tracing is best-effort and never fails a dial */
  onExportError?: (error: unknown) => void
  /**
   * Long-running processes (the worker, the local stack) export every this many ms; the Lambdas
   * leave it unset and flush at the end of each invocation.
   */
  flushEveryMs?: number
}

/** A tracer that buffers spans and exports them on `flush()` (and every `flushEveryMs`). */
export function createTracer(options: TracerOptions): Tracer {
  const now = options.now ?? Date.now
  let buffer: Span[] = []
  const push = (
    name: SpanName,
    ctx: TraceContext,
    spanId: string,
    startMs: number,
    endMs: number,
    attributes: SpanAttributes,
  ): void => {
    if (!ctx.sampled) return
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
  }
  const open = (name: SpanName, parent: TraceContext | undefined, attributes: SpanAttributes = {}) => {
    const startMs = now()
    const ctx = parent ?? { root: newTraceRoot(startMs), sampled: true }
    const spanId = newSpanId()
    let extra: SpanAttributes = { ...attributes }
    let ended = false
    const span: OpenSpan = {
      ctx: childContext(ctx, spanId),
      annotate: (more) => {
        extra = { ...extra, ...more }
      },
      end: (more) => {
        if (ended) return
        ended = true
        push(name, ctx, spanId, startMs, now(), more ? { ...extra, ...more } : extra)
      },
    }
    return span
  }
  const flush = async (): Promise<void> => {
    if (buffer.length === 0) return
    const spans = buffer
    buffer = []
    try {
      await options.sink.export(spans)
    } catch (error) {
      options.onExportError?.(error)
    }
  }
  const timer = options.flushEveryMs ? setInterval(() => void flush(), options.flushEveryMs) : undefined
  timer?.unref()
  return {
    enabled: true,
    async span(name, parent, attributes, fn) {
      const span = open(name, parent, attributes)
      try {
        return await fn(span.ctx, span.annotate)
      } finally {
        span.end()
      }
    },
    open,
    record(name, parent, startMs, endMs, attributes = {}) {
      const ctx = parent ?? { root: newTraceRoot(startMs), sampled: true }
      const spanId = newSpanId()
      push(name, ctx, spanId, startMs, endMs, attributes)
      return childContext(ctx, spanId)
    },
    flush,
    async close() {
      if (timer) clearInterval(timer)
      await flush()
    },
  }
}

/** The context NO_TRACER hands on: unsampled, so nothing downstream records either. */
const OFF: TraceContext = { root: '1-00000000-000000000000000000000000', sampled: false }
const OFF_SPAN: OpenSpan = { ctx: OFF, annotate: () => undefined, end: () => undefined }

/**
 * Tracing off: same interface, records nothing, allocates nothing per call (no ids, no
 * attributes) — the default where no sink is configured, so the hot path pays one property read.
 */
export const NO_TRACER: Tracer = {
  enabled: false,
  span: (_name, parent, _attributes, fn) => fn(parent ?? OFF, () => undefined),
  open: () => OFF_SPAN,
  record: (_name, parent) => parent ?? OFF,
  flush: async () => undefined,
  close: async () => undefined,
}
