import { callIdFor, type EnrichedDialTask } from '../contracts/index.js'
import { formatTraceHeader, parseTraceHeader } from '../tracing/context.js'
import type { OpenSpan, SpanAttributes, Tracer } from '../tracing/tracer.js'

interface Traced {
  messageId: string
  task: EnrichedDialTask
}

/**
 * The dialer's spans of one batch, per task, in the task's trace (the header enrich put on it):
 * `dialer` (this batch, ended with the task's fate) and under it `admitted` (the limiter's Redis
 * call, with the batch's admitted count and this task's slot wait), `deferred` (the re-send to
 * the queue, whose message carries this span as parent), `dial-request` (the POST /dial, whose
 * `x-amzn-trace-id` header carries it to the worker) and `postgres` (the outcome rows).
 * Built only while tracing is on; handle-batch.ts calls it through optional chaining.
 */
export class DialerTrace {
  private readonly spans = new Map<string, { span: OpenSpan; ids: SpanAttributes }>()

  constructor(
    private readonly tracer: Tracer,
    items: readonly Traced[],
  ) {
    for (const { messageId, task } of items) {
      const ids: SpanAttributes = {
        callId: callIdFor(task),
        campaignId: task.campaignId,
        contactId: task.contactId,
        attempt: task.attempts,
      }
      this.spans.set(messageId, { span: tracer.open('dialer', parseTraceHeader(task.traceHeader), ids), ids })
    }
  }

  /** The limiter's call [startMs, endMs]: one `admitted` span per admitted task. */
  admitted(
    items: readonly Traced[],
    admission: { delaysMs: readonly number[]; limit: number; mode: string },
    startMs: number,
    endMs: number,
  ): void {
    items.forEach((item, i) => {
      const at = this.spans.get(item.messageId)
      if (!at) return
      this.tracer.record('admitted', at.span.ctx, startMs, endMs, {
        ...at.ids,
        admitted: items.length,
        slotWaitMs: Math.round(admission.delaysMs[i] ?? 0),
        limit: admission.limit,
        mode: admission.mode,
      })
    })
  }

  /** Opens a span for a call out (deferred, dial-request); its header travels with the call. */
  child(
    name: 'deferred' | 'dial-request',
    messageId: string,
    more: SpanAttributes = {},
  ): { span: OpenSpan; header: string } | undefined {
    const at = this.spans.get(messageId)
    if (!at) return undefined
    const span = this.tracer.open(name, at.span.ctx, { ...at.ids, ...more })
    return { span, header: formatTraceHeader(span.ctx) }
  }

  /** The outcome rows' INSERT [startMs, endMs], under every task of the batch. */
  outcomes(startMs: number, endMs: number): void {
    for (const { span, ids } of this.spans.values())
      this.tracer.record('postgres', span.ctx, startMs, endMs, {
        callId: ids.callId,
        query: 'outcomes',
        batchSize: this.spans.size,
      })
  }

  /** Ends each task's `dialer` span with its fate (the task_outcomes outcome and reason). */
  end(fates: readonly { messageId?: string; outcome: string; reason?: string }[]): void {
    for (const fate of fates) {
      const at = fate.messageId ? this.spans.get(fate.messageId) : undefined
      at?.span.end({ status: fate.outcome, ...(fate.reason ? { reason: fate.reason.split(':')[0] } : {}) })
    }
    for (const { span } of this.spans.values()) span.end()
  }
}
