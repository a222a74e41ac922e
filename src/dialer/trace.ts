import { callIdFor } from '../contracts/index.js'
import { formatTraceHeader, parseTraceHeader } from '../tracing/context.js'
import type { OpenSpan, SpanAttributes, Tracer } from '../tracing/tracer.js'
import type { DialerDeps } from './handle-batch.js'

interface TaskSpan {
  span: OpenSpan
  ids: SpanAttributes & { callId: string }
}

/** The ids of an enriched task as the event carries it; handle-batch parses it for real. */
function idsOf(
  raw: unknown,
): { messageId: string; callId: string; ids: SpanAttributes; header?: string } | null {
  const r = (raw ?? {}) as Record<string, unknown>
  const { messageId, campaignId, contactId, attempts, traceHeader } = r
  if (typeof messageId !== 'string' || typeof campaignId !== 'string' || typeof contactId !== 'string')
    return null
  if (typeof attempts !== 'number') return null
  const callId = callIdFor({ campaignId, contactId, attempts })
  return {
    messageId,
    callId,
    ids: { callId, campaignId, contactId, attempt: attempts },
    ...(typeof traceHeader === 'string' ? { header: traceHeader } : {}),
  }
}

/**
 * The dialer's spans of one batch, per task, in the task's trace (the header enrich put on it):
 * `dialer` (this batch, ended with the task's recorded fate) and under it `admitted` (the
 * limiter's Redis call, with the batch's admitted count and this task's slot wait), `deferred`
 * (the re-send to the queue, whose message carries this span as parent), `dial-request` (the
 * POST /dial, whose `x-amzn-trace-id` carries it to the worker) and `postgres` (the outcome rows).
 *
 * Done by wrapping the batch's ports — limiter, worker client, requeue, outcome recorder — so the
 * dialer's phases (handle-batch.ts) carry no tracing code, and with tracing off the batch runs on
 * the unwrapped ports (createDialer decides, once per batch).
 */
export function tracedDialerDeps(deps: DialerDeps, tracer: Tracer, event: unknown): DialerDeps {
  const byMessage = new Map<string, TaskSpan>()
  const byCall = new Map<string, TaskSpan>()
  for (const raw of Array.isArray(event) ? event : []) {
    const task = idsOf(raw)
    if (!task || byMessage.has(task.messageId)) continue
    const at = {
      span: tracer.open('dialer', parseTraceHeader(task.header), task.ids),
      ids: { ...task.ids, callId: task.callId },
    }
    byMessage.set(task.messageId, at)
    byCall.set(task.callId, at)
  }
  let limiter: { startMs: number; endMs: number; admitted: number; limit: number; mode: string } | undefined
  const child = (at: TaskSpan, name: 'deferred' | 'dial-request', more: SpanAttributes = {}) =>
    tracer.open(name, at.span.ctx, { ...at.ids, ...more })

  return {
    ...deps,
    limiter: {
      async admit(n, limit) {
        const startMs = Date.now()
        const admission = await deps.limiter.admit(n, limit)
        limiter = {
          startMs,
          endMs: Date.now(),
          admitted: admission.delaysMs.length,
          limit: admission.limit,
          mode: admission.mode,
        }
        return admission
      },
    },
    worker: {
      async dial(command, options) {
        const at = byCall.get(command.callId)
        if (!at) return deps.worker.dial(command, options)
        if (limiter)
          tracer.record('admitted', at.span.ctx, limiter.startMs, limiter.endMs, {
            ...at.ids,
            admitted: limiter.admitted,
            // how long the task waited for its slot: from the limiter's answer to the slot
            slotWaitMs: Math.max(0, Math.round((command.notBefore ?? limiter.endMs) - limiter.endMs)),
            limit: limiter.limit,
            mode: limiter.mode,
          })
        const span = child(at, 'dial-request')
        const result = await deps.worker.dial(command, {
          ...options,
          traceHeader: formatTraceHeader(span.ctx),
        })
        span.end({
          status: result.kind,
          ...('status' in result && result.status ? { httpStatus: result.status } : {}),
        })
        return result
      },
    },
    ...(deps.requeue
      ? {
          requeue: {
            async requeue(entries) {
              const spans = entries.map((e) => {
                const task = idsOf({ ...(JSON.parse(e.body) as object), messageId: e.id })
                const at = task && byCall.get(task.callId)
                return at ? child(at, 'deferred', { deferredMs: e.delaySeconds * 1000 }) : undefined
              })
              const traced = entries.map((e, j) =>
                spans[j] ? { ...e, traceHeader: formatTraceHeader(spans[j].ctx) } : e,
              )
              const ends = (failed: Set<string>) =>
                spans.forEach((s, j) =>
                  s?.end({ status: failed.has(entries[j]!.id) ? 'failed' : 'deferred' }),
                )
              try {
                const out = await deps.requeue!.requeue(traced)
                ends(new Set(out.failed))
                return out
              } catch (error) {
                ends(new Set(entries.map((e) => e.id)))
                throw error
              }
            },
          },
        }
      : {}),
    outcomes: {
      async record(outcomes) {
        const startMs = Date.now()
        try {
          await deps.outcomes.record(outcomes)
        } finally {
          const endMs = Date.now()
          for (const at of byMessage.values())
            tracer.record('postgres', at.span.ctx, startMs, endMs, {
              callId: at.ids.callId,
              query: 'outcomes',
              batchSize: byMessage.size,
            })
          for (const o of outcomes) {
            const at = o.messageId ? byMessage.get(o.messageId) : undefined
            at?.span.end({ status: o.outcome, ...(o.reason ? { reason: o.reason.split(':')[0] } : {}) })
          }
          for (const at of byMessage.values()) at.span.end()
        }
      },
    },
  }
}
