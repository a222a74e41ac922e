import { callIdFor } from '../contracts/index.js'
import { formatTraceHeader, parseTraceHeader } from '../tracing/context.js'
import type { OpenSpan, SpanAttributes, Tracer } from '../tracing/tracer.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import type { AdmissionLimiter } from '../pacing/limiter.js'
import type { DialerDeps } from './handle-batch.js'
import type { OutcomeRecorder, TaskRequeue } from './ports.js'
import type { WorkerClient } from './worker-client.js'

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
  const batch = new BatchSpans(tracer, event)
  return {
    ...deps,
    limiter: batch.limiter(deps.limiter),
    worker: batch.worker(deps.worker),
    ...(deps.requeue ? { requeue: batch.requeue(deps.requeue) } : {}),
    outcomes: batch.outcomes(deps.outcomes),
  }
}

/** One batch's task spans, by message id and by call id, and the ports that record them. */
class BatchSpans {
  private readonly byMessage = new Map<string, TaskSpan>()
  private readonly byCall = new Map<string, TaskSpan>()
  private lastAdmit?: { startMs: number; endMs: number; admitted: number; limit: number; mode: string }

  constructor(
    private readonly tracer: Tracer,
    event: unknown,
  ) {
    for (const raw of Array.isArray(event) ? event : []) {
      const task = idsOf(raw)
      if (!task || this.byMessage.has(task.messageId)) continue
      const span = tracer.open('dialer', parseTraceHeader(task.header), task.ids)
      const at = { span, ids: { ...task.ids, callId: task.callId } }
      this.byMessage.set(task.messageId, at)
      this.byCall.set(task.callId, at)
    }
  }

  private child(at: TaskSpan, name: 'deferred' | 'dial-request', more: SpanAttributes = {}): OpenSpan {
    return this.tracer.open(name, at.span.ctx, { ...at.ids, ...more })
  }

  /** Times the limiter's Redis call; its spans are recorded per admitted task, at its POST. */
  limiter(limiter: AdmissionLimiter): AdmissionLimiter {
    return {
      admit: async (n, limit, opts) => {
        const startMs = Date.now()
        const a = await limiter.admit(n, limit, opts)
        this.lastAdmit = {
          startMs,
          endMs: Date.now(),
          admitted: a.delaysMs.length,
          limit: a.limit,
          mode: a.mode,
        }
        return a
      },
    }
  }

  /** `admitted` (slot wait: from the limiter's answer to the slot) and `dial-request`, whose header the worker gets. */
  worker(worker: WorkerClient): WorkerClient {
    return {
      dial: async (command, options) => {
        const at = this.byCall.get(command.callId)
        if (!at) return worker.dial(command, options)
        const admit = this.lastAdmit
        if (admit)
          this.tracer.record('admitted', at.span.ctx, admit.startMs, admit.endMs, {
            ...at.ids,
            admitted: admit.admitted,
            slotWaitMs: Math.max(0, Math.round((command.notBefore ?? admit.endMs) - admit.endMs)),
            limit: admit.limit,
            mode: admit.mode,
          })
        const span = this.child(at, 'dial-request')
        const result = await worker.dial(command, { ...options, traceHeader: formatTraceHeader(span.ctx) })
        span.end({
          status: result.kind,
          ...('status' in result && result.status ? { httpStatus: result.status } : {}),
        })
        return result
      },
    }
  }

  /** `deferred` per re-sent task; the new message carries the span as its parent. */
  requeue(requeue: TaskRequeue): TaskRequeue {
    return {
      requeue: async (entries) => {
        const spans = entries.map((e) => {
          const task = idsOf({ ...(JSON.parse(e.body) as object), messageId: e.id })
          const at = task && this.byCall.get(task.callId)
          return at ? this.child(at, 'deferred', { deferredMs: e.delaySeconds * 1000 }) : undefined
        })
        const traced = entries.map((e, j) =>
          spans[j] ? { ...e, traceHeader: formatTraceHeader(spans[j].ctx) } : e,
        )
        const end = (failed: Set<string>) =>
          spans.forEach((s, j) => s?.end({ status: failed.has(entries[j]!.id) ? 'failed' : 'deferred' }))
        try {
          const out = await requeue.requeue(traced)
          end(new Set(out.failed))
          return out
        } catch (error) {
          end(new Set(entries.map((e) => e.id)))
          throw error
        }
      },
    }
  }

  /** `postgres` (the outcome rows) under every task, then each `dialer` span ends with its fate. */
  outcomes(recorder: OutcomeRecorder): OutcomeRecorder {
    return {
      record: async (outcomes) => {
        const startMs = Date.now()
        try {
          await recorder.record(outcomes)
        } finally {
          this.finish(outcomes, startMs, Date.now())
        }
      },
    }
  }

  private finish(outcomes: readonly TaskOutcome[], startMs: number, endMs: number): void {
    const batchSize = this.byMessage.size
    for (const at of this.byMessage.values())
      this.tracer.record('postgres', at.span.ctx, startMs, endMs, {
        callId: at.ids.callId,
        query: 'outcomes',
        batchSize,
      })
    for (const o of outcomes) {
      const at = o.messageId ? this.byMessage.get(o.messageId) : undefined
      at?.span.end({ status: o.outcome, ...(o.reason ? { reason: o.reason.split(':')[0] } : {}) })
    }
    for (const at of this.byMessage.values()) at.span.end()
  }
}
