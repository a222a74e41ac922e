import { randomBytes } from 'node:crypto'

/**
 * The X-Ray trace context a dial task carries, as the `X-Amzn-Trace-Id` / SQS `AWSTraceHeader` text:
 * `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`.
 * Source: AWS X-Ray developer guide, "Tracing header" (docs.aws.amazon.com/xray/latest/devguide/
 * xray-concepts.html#xray-concepts-tracingheader). Unknown keys (e.g. `Lineage`) are ignored.
 */
export interface TraceContext {
  /** the trace id, `1-5759e988-bd862e3fe1be46a994272793` */
  root: string
  /** the id of the span (segment) that is the parent of the next one */
  parent?: string
  sampled: boolean
}

/** The HTTP header the worker reads; SQS names the same text `AWSTraceHeader`. */
export const TRACE_HEADER = 'x-amzn-trace-id'

const ROOT = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/
const SPAN_ID = /^[0-9a-f]{16}$/

/** Parses a tracing header; undefined when absent or without a well-formed Root. */
export function parseTraceHeader(header: string | undefined | null): TraceContext | undefined {
  if (!header) return undefined
  const parts = new Map<string, string>()
  for (const field of header.split(';')) {
    const eq = field.indexOf('=')
    if (eq > 0) parts.set(field.slice(0, eq).trim(), field.slice(eq + 1).trim())
  }
  const root = parts.get('Root')
  if (!root || !ROOT.test(root)) return undefined
  const parent = parts.get('Parent')
  return {
    root,
    ...(parent && SPAN_ID.test(parent) ? { parent } : {}),
    sampled: parts.get('Sampled') !== '0',
  }
}

/** Formats a context as the header text (Root, then Parent when known, then Sampled). */
export function formatTraceHeader(ctx: TraceContext): string {
  return `Root=${ctx.root}${ctx.parent ? `;Parent=${ctx.parent}` : ''};Sampled=${ctx.sampled ? 1 : 0}`
}

/** A new trace id whose first field is the start time, as X-Ray requires (epoch seconds, hex). */
export function newTraceRoot(nowMs: number = Date.now()): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
  return `1-${seconds}-${randomBytes(12).toString('hex')}`
}

/** A new 64-bit span (segment) id, 16 hex digits. */
export function newSpanId(): string {
  return randomBytes(8).toString('hex')
}

/** The context a child span passes on: same trace, the child as parent. */
export function childContext(ctx: TraceContext, spanId: string): TraceContext {
  return { root: ctx.root, parent: spanId, sampled: ctx.sampled }
}
