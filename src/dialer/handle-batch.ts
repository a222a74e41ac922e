import {
  callIdFor,
  describeZodError,
  dialIdempotencyKey,
  DialTask,
  EnrichedDialTask,
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
import { Ledger, type Decision, type Item, type TaskItem } from './ledger.js'
import { errorMessage } from '../errors.js'

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
  /**
   * The queue's maxReceiveCount, on AWS only: SQS moves a task to the DLQ by itself, unseen by any
   * Lambda, so the dialer warns when a task it returns for retry has used its last receive. Locally
   * the queue logs the move itself (PgQueue), so this stays unset there.
   */
  maxReceiveCount?: number
}

export const DEFAULT_LEAD_MS = 200

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
async function admit(deps: DialerDeps, todo: TaskItem[], ledger: Ledger) {
  const { limit, source } = await deps.limitStore.getLimit()
  const admission: Admission = todo.length
    ? await deps.limiter.admit(todo.length, limit)
    : { delaysMs: [], deferDelaysMs: [], mode: 'redis', limit }
  const decidedAtMs = (deps.nowMs ?? Date.now)()
  const admitted = todo.slice(0, admission.delaysMs.length)
  const why = `limit ${admission.limit} CPS (${admission.mode})`
  const refused = todo
    .slice(admission.delaysMs.length)
    .map((item, j): Deferral => ({ item, delayMs: admission.deferDelaysMs[j] ?? 0, why }))
  const deferred = await deferAll(deps, refused, ledger, 'at its next slot')
  if (refused.length)
    deps.logger.info('Rate limit reached: tasks deferred to their next slot', {
      deferred,
      returnedForRetry: refused.length - deferred,
      admitted: admitted.length,
      limit: admission.limit,
      limitSource: source,
      mode: admission.mode,
    })
  return { admission, admitted, decidedAtMs }
}

/** A task going back to the queue: in `delayMs`, because of `why` (the limiter, a busy worker). */
interface Deferral {
  item: TaskItem
  delayMs: number
  why: string
  callId?: string
}

/**
 * Re-queues the tasks with their delays and records each one's fate: `deferred` (re-sent, no
 * receive spent) or, when the queue could not take it, an ordinary retry (`rate_limited`), which
 * is what happened before deferral existed. Returns how many were re-sent. Never throws.
 */
async function deferAll(deps: DialerDeps, deferrals: Deferral[], ledger: Ledger, when: string) {
  const sent = await requeue(deps, deferrals)
  for (const d of deferrals) {
    const seconds = sent.get(d.item.messageId)
    if (seconds === undefined) ledger.record(d.item, 'rate_limited', d.why, d.callId)
    else ledger.record(d.item, 'deferred', `${d.why}: back in ${seconds} s ${when}`, d.callId)
  }
  return sent.size
}

/**
 * Re-sends the deferred tasks to the dial-tasks queue with their delays. Returns messageId →
 * delay (s) of those re-sent; the others stay ordinary retries. Never throws: a queue that cannot
 * take them leaves them to the pipe's retry.
 */
async function requeue(deps: DialerDeps, deferrals: Deferral[]): Promise<Map<string, number>> {
  const done = new Map<string, number>()
  if (!deps.requeue || deferrals.length === 0) return done
  const entries = deferrals.map((d, j) => ({
    id: `t${j}`,
    // The task as the queue carried it (enrichment fields stripped): attempts unchanged, since
    // a deferral is not an attempt.
    body: JSON.stringify(DialTask.parse(d.item.task)),
    delaySeconds: delaySecondsFor(d.delayMs),
  }))
  try {
    const { failed } = await deps.requeue.requeue(entries)
    const bad = new Set(failed)
    entries.forEach((e, j) => {
      if (!bad.has(e.id)) done.set(deferrals[j]!.item.messageId, e.delaySeconds)
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
): Promise<Deferral | undefined> {
  const { logger } = deps
  const leadMs = deps.leadMs ?? DEFAULT_LEAD_MS
  await (deps.sleep ?? realSleep)(Math.min(Math.max(0, slot.delayMs - leadMs), deps.maxWaitMs ?? 1100))
  const t = item.task
  const command = { ...dialCommandFor(t), notBefore: slot.notBefore, cpsLimit: slot.limit }
  let result: WorkerDialResult
  try {
    result = await deps.worker.dial(command)
  } catch (error) {
    result = { kind: 'error', message: errorMessage(error) }
  }
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
      ledger.record(item, 'dialed', undefined, command.callId)
      return undefined
    case 'duplicate':
      logger.info('Worker reports this attempt was dialed already', context)
      ledger.accepted.push(item.key)
      ledger.record(item, 'duplicate', 'worker: already dialed', command.callId)
      return undefined
    case 'refused':
      // The dial gate's decision is final: recorded with its reason, never retried.
      logger.warn('Dial gate refused the dial; task dropped', { ...context, reason: result.reason })
      ledger.record(item, 'dropped', result.reason, command.callId)
      return undefined
    case 'busy':
      // At capacity or draining: a state of the worker, so deferred like a limiter refusal
      // (spends no receive), back after the worker's Retry-After.
      logger.warn('Worker busy; task deferred', {
        ...context,
        status: result.status,
        error: result.message,
        retryAfterSeconds: result.retryAfterSeconds,
      })
      return {
        item,
        delayMs: result.retryAfterSeconds * 1000,
        why: `worker ${result.status}: ${result.message}`,
        callId: command.callId,
      }
    case 'error':
      logger.error('Dial command failed; task returned for retry', {
        ...context,
        status: result.status,
        error: result.message,
      })
      ledger.record(item, 'failed', result.message, command.callId)
      return undefined
  }
}

/**
 * Phase 7 (AWS): a task returned for retry on its last receive goes to the DLQ at its next one
 * (SQS redrive policy); said at WARN with the reason and the command to inspect.
 */
function warnLastReceives(deps: DialerDeps, items: Item[], decided: Decision[]): void {
  const max = deps.maxReceiveCount
  if (max === undefined) return
  const receives = new Map(
    items.flatMap((i) => (i.kind === 'task' && i.task.receiveCount ? [[i.index, i.task.receiveCount]] : [])),
  )
  for (const d of decided) {
    const count = receives.get(d.index)
    if (!d.retry || count === undefined || count < max) continue
    deps.logger.warn(
      `Task failed its last receive (${count} of maxReceiveCount ${max}): SQS moves it to the dead-letter queue; inspect with: dialctl dlq list`,
      {
        messageId: d.outcome.messageId,
        campaignId: d.outcome.campaignId,
        contactId: d.outcome.contactId,
        receiveCount: count,
        reason: `${d.outcome.outcome}${d.outcome.reason ? `: ${d.outcome.reason}` : ''}`,
        next: 'dialctl dlq list',
      },
    )
  }
}

/** Phase 6: markers and outcome rows; neither failure may undo or repeat the dials. */
async function persist(deps: DialerDeps, ledger: Ledger, outcomes: TaskOutcome[]): Promise<void> {
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
}

/**
 * The dialer target of the pipe. Per task: already accepted (marker) → duplicate, no CPS used;
 * not admitted by the limiter → deferred (re-queued delayed to its next slot, not a failure);
 * admitted → POST /dial ahead of its slot, which the worker originates at.
 * Worker 202 → dialed; 200 duplicate → duplicate; 409 (the dial gate refused: paused, window
 * closed, blacklisted, stale …) → dropped with the gate's reason, not retried; 429 / 503
 * draining → deferred by the worker's Retry-After (no receive spent); timeout / 5xx (a 503 for an
 * unhealthy driver or PostgreSQL too) / network → failed and retried, the rest of the batch goes on (seed
 * scenario 3). Returns Pipes' partial batch response (the retried messageIds).
 */
export async function handleDialBatch(deps: DialerDeps, event: unknown): Promise<DialerResponse> {
  const { logger, metrics } = deps
  const items = readEvent(event)
  const ledger = new Ledger()
  const valid = rejectInvalid(items, ledger, logger)
  const todo = await skipMarked(deps, valid, ledger)
  const { admission, admitted, decidedAtMs } = await admit(deps, todo, ledger)
  // Each task is logged and recorded the moment its POST ends, so log times show the pacing.
  const busy = await Promise.all(
    admitted.map((item, i) => {
      const delayMs = admission.delaysMs[i] ?? 0
      const slotMicros = admission.slotsMicros?.[i]
      const notBefore = slotMicros !== undefined ? slotMicros / 1000 : decidedAtMs + delayMs
      return dialOne(deps, item, { delayMs, notBefore, limit: admission.limit }, ledger)
    }),
  )
  const workerDeferrals = busy.filter((d): d is Deferral => d !== undefined)
  await deferAll(deps, workerDeferrals, ledger, '(Retry-After)')

  const decided = ledger.ordered()
  const outcomes = decided.map((d) => d.outcome)
  await persist(deps, ledger, outcomes)
  warnLastReceives(deps, items, decided)

  const { counts } = ledger
  if (admission.admittedThisSecond !== undefined)
    metrics.addMetric(MetricName.CurrentCPS, 'Count', admission.admittedThisSecond)
  // The live limit this batch applied: the CpsNearLimit alarm divides CurrentCPS by it.
  metrics.addMetric(MetricName.CpsLimit, 'Count', admission.limit)
  metrics.addMetric(MetricName.DialedTasks, 'Count', counts.dialed)
  metrics.addMetric(MetricName.RateLimitedTasks, 'Count', counts.deferred + counts.rate_limited)
  metrics.addMetric(MetricName.DuplicateDials, 'Count', counts.duplicate)
  metrics.addMetric(MetricName.DialerWorkerErrors, 'Count', counts.failed)
  // the worker's 429 / 503 draining: deferred (or, with the queue unable to take them, retried)
  metrics.addMetric(MetricName.WorkerDeferrals, 'Count', workerDeferrals.length)
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
