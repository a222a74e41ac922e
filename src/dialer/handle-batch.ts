import {
  callIdFor,
  describeZodError,
  dialIdempotencyKey,
  DialTask,
  EnrichedDialTask,
  type EnrichedDialTask as Task,
} from '../contracts/index.js'
import type { Logger } from '../observability/logger.js'
import { maskPhone } from '../observability/mask.js'
import { MetricName } from '../observability/metrics.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import type { Admission, AdmissionLimiter } from '../pacing/limiter.js'
import type { LimitStore } from '../pacing/limit-store.js'
import type { DialMarker } from './dial-marker.js'
import {
  delaySecondsFor,
  realSleep,
  type DialerResponse,
  type TaskRequeue,
  type MetricsPort,
  type OutcomeRecorder,
  type Sleep,
} from './ports.js'
import { dialCommandFor, type WorkerClient, type WorkerDialResult } from './worker-client.js'
import { errorMessage } from '../errors.js'
import type { Tracer } from '../tracing/tracer.js'
import { DialerTrace } from './trace.js'

export interface DialerDeps {
  /** the resilient limiter (Redis, degraded fallback) */
  limiter: AdmissionLimiter
  limitStore: Pick<LimitStore, 'getLimit'>
  worker: WorkerClient
  outcomes: OutcomeRecorder
  marker: DialMarker
  logger: Logger
  metrics: MetricsPort
  sleep?: Sleep
  /** a slot never makes the dialer wait longer than this (the limiter's horizon is 1 s) */
  maxWaitMs?: number
  /**
   * Where tasks the limiter cannot admit go back, delayed to their next slot (deferral: no
   * receive spent). Without it they are returned as failures, as before (and can reach the DLQ).
   */
  requeue?: TaskRequeue
  /** epoch ms now; the DialCommand's notBefore of a degraded-mode slot is computed from it */
  nowMs?: () => number
  /**
   * POST this long before the slot (ms, default 200): the worker holds the call until the
   * command's notBefore, so the slot's instant is kept where the call leaves, whatever the
   * lateness of this process's timers or of the network.
   */
  leadMs?: number
  /** each task's spans (issue #19, see trace.ts); default none */
  tracer?: Tracer
}

export const DEFAULT_LEAD_MS = 200

type Fate = 'dialed' | 'duplicate' | 'dropped' | 'deferred' | 'rate_limited' | 'busy' | 'failed'

/** One record of the batch after parsing: a task to dial, or why it is not one. */
type Item =
  | { kind: 'task'; index: number; messageId: string; task: Task; key: string }
  | { kind: 'invalid'; index: number; messageId: string; error: string }
type TaskItem = Extract<Item, { kind: 'task' }>

interface Decision {
  index: number
  outcome: TaskOutcome
  retry: boolean
}

/** Phase 1: splits the Pipes event into tasks; a record without messageId cannot be reported alone. */
function readEvent(event: unknown): Item[] {
  if (!Array.isArray(event))
    throw new Error(
      `dialer: the event must be the enrichment's list of tasks (got ${event === null ? 'null' : typeof event}); check the pipe's target input`,
    )
  return event.map((raw: unknown, index): Item => {
    const messageId = (raw as { messageId?: unknown } | null)?.messageId
    if (typeof messageId !== 'string' || messageId.length === 0)
      // Throwing fails the whole batch (retried, then DLQ): better than dropping a task we
      // cannot name in batchItemFailures.
      throw new Error(`dialer: item ${index} has no messageId; enrichment must keep each record's messageId`)
    const parsed = EnrichedDialTask.safeParse(raw)
    return parsed.success
      ? { kind: 'task', index, messageId, task: parsed.data, key: dialIdempotencyKey(parsed.data) }
      : { kind: 'invalid', index, messageId, error: describeZodError(parsed.error) }
  })
}

/** Collects one decision per record, counted by fate; outcomes come out in batch order. */
class Ledger {
  readonly decided: Decision[] = []
  readonly counts: Record<Fate, number> = {
    dialed: 0,
    duplicate: 0,
    dropped: 0,
    deferred: 0,
    rate_limited: 0,
    busy: 0,
    failed: 0,
  }
  /** idempotency keys of dials the worker accepted (or had accepted): marked in Redis after */
  readonly accepted: string[] = []

  record(item: Item, fate: Fate, reason?: string, callId?: string): void {
    this.counts[fate]++
    const t = item.kind === 'task' ? item.task : undefined
    this.decided.push({
      index: item.index,
      retry: fate !== 'dialed' && fate !== 'duplicate' && fate !== 'dropped' && fate !== 'deferred',
      outcome: {
        messageId: item.messageId,
        campaignId: t?.campaignId,
        contactId: t?.contactId,
        attempt: t?.attempts,
        stage: 'dialer',
        // busy workers are a retry like the limiter's; `reason` tells them apart
        outcome: fate === 'busy' ? 'rate_limited' : fate,
        reason,
        callId,
      },
    })
  }

  ordered(): Decision[] {
    return [...this.decided].sort((a, b) => a.index - b.index)
  }
}

/** Phase 2: invalid records are failed (retried, then DLQ) without touching the others. */
function rejectInvalid(items: Item[], ledger: Ledger, logger: Logger): TaskItem[] {
  const valid: TaskItem[] = []
  for (const item of items) {
    if (item.kind === 'task') {
      valid.push(item)
      continue
    }
    logger.error('Invalid dial task; returned for retry (it will reach the DLQ)', {
      messageId: item.messageId,
      error: item.error,
    })
    ledger.record(item, 'failed', `invalid task: ${item.error}`)
  }
  return valid
}

/** Phase 3: redelivered tasks whose dial was accepted already take no slot and no POST. */
async function skipMarked(deps: DialerDeps, valid: TaskItem[], ledger: Ledger): Promise<TaskItem[]> {
  let marked = valid.map(() => false)
  try {
    marked = await deps.marker.marked(valid.map((i) => i.key))
  } catch (error) {
    deps.logger.warn('Dial markers unreadable; the worker still refuses double dials', {
      error: errorMessage(error),
    })
  }
  const seen = new Set<string>()
  const todo: TaskItem[] = []
  valid.forEach((item, i) => {
    if (marked[i] || seen.has(item.key)) {
      const why = marked[i] ? 'already dialed (marker)' : 'same task twice in one batch'
      ledger.record(item, 'duplicate', why, callIdFor(item.task))
      return
    }
    seen.add(item.key)
    todo.push(item)
  })
  return todo
}

/**
 * Phase 4: the limiter admits a prefix of the tasks, each with its slot; the rest are deferred to
 * their next slot (re-queued delayed), or retried when the queue cannot take them.
 */
async function admit(deps: DialerDeps, todo: TaskItem[], ledger: Ledger, trace?: DialerTrace) {
  const { limit, source } = await deps.limitStore.getLimit()
  const limiterStart = trace && Date.now()
  const admission: Admission = todo.length
    ? await deps.limiter.admit(todo.length, limit)
    : { delaysMs: [], deferDelaysMs: [], mode: 'redis', limit }
  const decidedAtMs = (deps.nowMs ?? Date.now)()
  const admitted = todo.slice(0, admission.delaysMs.length)
  const refused = todo.slice(admission.delaysMs.length)
  trace?.admitted(admitted, admission, limiterStart!, Date.now())
  const deferred = await defer(deps, refused, admission, trace)
  for (const item of refused) {
    const why = `limit ${admission.limit} CPS (${admission.mode})`
    const delay = deferred.get(item.messageId)
    if (delay === undefined) ledger.record(item, 'rate_limited', why)
    else ledger.record(item, 'deferred', `${why}: back in ${delay} s at its next slot`)
  }
  if (refused.length)
    deps.logger.info('Rate limit reached: tasks deferred to their next slot', {
      deferred: deferred.size,
      returnedForRetry: refused.length - deferred.size,
      admitted: admitted.length,
      limit: admission.limit,
      limitSource: source,
      mode: admission.mode,
    })
  return { admission, admitted, decidedAtMs }
}

/**
 * Re-queues the refused tasks with their deferral delays (the limiter's next free slots). Returns
 * messageId → delay (s) of those re-sent; the others stay ordinary retries. Never throws: a
 * queue that cannot take them leaves them to the pipe's retry, which is what happened before.
 */
async function defer(
  deps: DialerDeps,
  refused: TaskItem[],
  admission: Admission,
  trace?: DialerTrace,
): Promise<Map<string, number>> {
  const done = new Map<string, number>()
  if (!deps.requeue || refused.length === 0) return done
  const spans = refused.map((item, j) =>
    trace?.child('deferred', item.messageId, { deferredMs: Math.round(admission.deferDelaysMs[j] ?? 0) }),
  )
  const entries = refused.map((item, j) => ({
    id: `t${j}`,
    // The task as the queue carried it (enrichment fields stripped): attempts unchanged, since
    // a deferral is not an attempt.
    body: JSON.stringify(DialTask.parse(item.task)),
    delaySeconds: delaySecondsFor(admission.deferDelaysMs[j] ?? 0),
    // the re-sent message stays in the task's trace, under this deferral
    ...(spans[j] ? { traceHeader: spans[j].header } : {}),
  }))
  try {
    const { failed } = await deps.requeue.requeue(entries)
    const bad = new Set(failed)
    entries.forEach((e, j) => {
      if (!bad.has(e.id)) done.set(refused[j]!.messageId, e.delaySeconds)
    })
    if (failed.length)
      deps.logger.warn('Some deferred tasks could not be re-queued; they are returned for retry', {
        failed: failed.length,
      })
  } catch (error) {
    deps.logger.error('Deferred tasks could not be re-queued; they are returned for retry', {
      tasks: entries.length,
      error: errorMessage(error),
    })
  }
  spans.forEach((s, j) => s?.span.end({ status: done.has(refused[j]!.messageId) ? 'deferred' : 'failed' }))
  return done
}

/**
 * Phase 5, per task: POSTs `leadMs` before its slot with the slot's absolute time (`notBefore`,
 * Redis clock; the local clock in degraded mode) and the limit, so the worker originates at the
 * slot; records what the worker answered.
 */
async function dialOne(
  deps: DialerDeps,
  item: TaskItem,
  slot: { delayMs: number; notBefore: number; limit: number },
  ledger: Ledger,
  trace?: DialerTrace,
): Promise<void> {
  const { logger } = deps
  const leadMs = deps.leadMs ?? DEFAULT_LEAD_MS
  await (deps.sleep ?? realSleep)(Math.min(Math.max(0, slot.delayMs - leadMs), deps.maxWaitMs ?? 1100))
  const t = item.task
  const command = { ...dialCommandFor(t), notBefore: slot.notBefore, cpsLimit: slot.limit }
  let result: WorkerDialResult
  const request = trace?.child('dial-request', item.messageId)
  try {
    result = await deps.worker.dial(command, request && { traceHeader: request.header })
  } catch (error) {
    result = { kind: 'error', message: errorMessage(error) }
  }
  request?.span.end({
    status: result.kind,
    ...('status' in result && result.status ? { httpStatus: result.status } : {}),
  })
  const context = {
    callId: command.callId,
    campaignId: t.campaignId,
    contactId: t.contactId,
    attempt: t.attempts,
    phoneNumber: maskPhone(t.phoneNumber),
  }
  switch (result.kind) {
    case 'accepted':
      logger.info('Dial command sent successfully', context)
      ledger.accepted.push(item.key)
      return ledger.record(item, 'dialed', undefined, command.callId)
    case 'duplicate':
      logger.info('Worker reports this attempt was dialed already', context)
      ledger.accepted.push(item.key)
      return ledger.record(item, 'duplicate', 'worker: already dialed', command.callId)
    case 'refused':
      // The dial gate's decision is final: recorded with its reason, never retried.
      logger.warn('Dial gate refused the dial; task dropped', { ...context, reason: result.reason })
      return ledger.record(item, 'dropped', result.reason, command.callId)
    case 'busy':
      logger.warn('Worker busy; task returned for retry', {
        ...context,
        status: result.status,
        error: result.message,
      })
      return ledger.record(item, 'busy', `worker ${result.status}: ${result.message}`, command.callId)
    case 'error':
      logger.error('Dial command failed; task returned for retry', {
        ...context,
        status: result.status,
        error: result.message,
      })
      return ledger.record(item, 'failed', result.message, command.callId)
  }
}

/** Phase 6: markers and outcome rows; neither failure may undo or repeat the dials. */
async function persist(
  deps: DialerDeps,
  ledger: Ledger,
  outcomes: TaskOutcome[],
  trace?: DialerTrace,
): Promise<void> {
  const started = trace && Date.now()
  try {
    await deps.marker.mark(ledger.accepted)
  } catch (error) {
    deps.logger.warn('Dial markers not written; a redelivery will be refused by the worker instead', {
      error: errorMessage(error),
    })
  }
  try {
    await deps.outcomes.record(outcomes)
  } catch (error) {
    // The dials happened; failing the batch now would only redeliver them. Say so loudly.
    deps.logger.error('Task outcomes not recorded (PostgreSQL?)', {
      error: errorMessage(error),
      outcomes: outcomes.length,
    })
  }
  trace?.outcomes(started!, Date.now())
}

/**
 * The dialer target of the pipe. Per task: already accepted (marker) → duplicate, no CPS used;
 * not admitted by the limiter → deferred (re-queued delayed to its next slot, not a failure);
 * admitted → POST /dial ahead of its slot, which the worker originates at.
 * Worker 202 → dialed; 200 duplicate → duplicate; 409 (the dial gate refused: paused, window
 * closed, blacklisted, stale …) → dropped with the gate's reason, not retried; 429 / 503 →
 * retried; timeout / 5xx / network → failed and retried, the rest of the batch goes on (seed
 * scenario 3). Returns Pipes' partial batch response (the retried messageIds).
 */
export async function handleDialBatch(deps: DialerDeps, event: unknown): Promise<DialerResponse> {
  const { logger, metrics } = deps
  const items = readEvent(event)
  const ledger = new Ledger()
  const valid = rejectInvalid(items, ledger, logger)
  const trace = deps.tracer?.enabled ? new DialerTrace(deps.tracer, valid) : undefined
  const todo = await skipMarked(deps, valid, ledger)
  const { admission, admitted, decidedAtMs } = await admit(deps, todo, ledger, trace)
  // Each task is logged and recorded the moment its POST ends, so log times show the pacing.
  await Promise.all(
    admitted.map((item, i) => {
      const delayMs = admission.delaysMs[i] ?? 0
      const slotMicros = admission.slotsMicros?.[i]
      const notBefore = slotMicros !== undefined ? slotMicros / 1000 : decidedAtMs + delayMs
      return dialOne(deps, item, { delayMs, notBefore, limit: admission.limit }, ledger, trace)
    }),
  )

  const decided = ledger.ordered()
  const outcomes = decided.map((d) => d.outcome)
  await persist(deps, ledger, outcomes, trace)
  trace?.end(outcomes)

  const { counts } = ledger
  if (admission.admittedThisSecond !== undefined)
    metrics.addMetric(MetricName.CurrentCPS, 'Count', admission.admittedThisSecond)
  // The live limit this batch applied: the CpsNearLimit alarm divides CurrentCPS by it.
  metrics.addMetric(MetricName.CpsLimit, 'Count', admission.limit)
  metrics.addMetric(MetricName.DialedTasks, 'Count', counts.dialed)
  metrics.addMetric(MetricName.RateLimitedTasks, 'Count', counts.deferred + counts.rate_limited + counts.busy)
  metrics.addMetric(MetricName.DuplicateDials, 'Count', counts.duplicate)
  metrics.addMetric(MetricName.DialerWorkerErrors, 'Count', counts.failed)
  metrics.addMetric(MetricName.RedisDegradedMode, 'Count', admission.mode === 'degraded' ? 1 : 0)
  logger.info('Dial batch done', {
    tasks: items.length,
    ...counts,
    limit: admission.limit,
    mode: admission.mode,
  })
  return {
    batchItemFailures: decided
      .filter((d) => d.retry)
      .map((d) => ({ itemIdentifier: d.outcome.messageId ?? '' })),
  }
}
