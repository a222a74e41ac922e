import { describeZodError, dialIdempotencyKey, EnrichedDialTask } from '../contracts/index.js'
import { logsAt, type Logger } from '../observability/logger.js'
import { maskPhone } from '../observability/mask.js'
import { MetricName } from '../observability/metrics.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import type { AdmissionLimiter } from '../pacing/limiter.js'
import type { LimitStore } from '../pacing/limit-store.js'
import type { DialMarker } from './dial-marker.js'
import {
  realSleep,
  type DialerResponse,
  type TaskRequeue,
  type MetricsPort,
  type OutcomeRecorder,
  type Sleep,
} from './ports.js'
import { dialCommandFor, type WorkerClient, type WorkerDialResult } from './worker-client.js'
import { Ledger, type Decision, type Item, type TaskItem } from './ledger.js'
import { admitAndDial, deferAll, type Deferral, type DialSlot } from './admission.js'
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
   * A refused task whose next slot is at most this far (ms) stays in the batch and takes that
   * slot, instead of being deferred through the queue. Default DEFAULT_HOLD_MS (7 s); 0 defers
   * every refused task.
   */
  holdMs?: number
  /**
   * A deferred task is sent back this long (ms) before its promised slot, to cover the pipe's
   * batching window on its way back. Default DEFAULT_RETURN_EARLY_MS (5 s window + 1 s).
   */
  returnEarlyMs?: number
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
      ? taskItem(parsed.data, index)
      : { kind: 'invalid', index, messageId, error: describeZodError(parsed.error) }
  })
}

function taskItem(task: EnrichedDialTask, index: number): TaskItem {
  return { kind: 'task', index, messageId: task.messageId, task, key: dialIdempotencyKey(task) }
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
      // the key is the task's call id (dialIdempotencyKey)
      ledger.record(item, 'duplicate', why, item.key)
      return
    }
    seen.add(item.key)
    todo.push(item)
  })
  return todo
}

/**
 * The fields of a task's log lines, the number masked. Built only for a line that is printed:
 * most tasks end at INFO, which a busy pipeline runs without (issue #17: a masked number per task
 * for nothing). A function of the module, not a closure per task.
 */
function logContext(callId: string, t: EnrichedDialTask) {
  return {
    callId,
    campaignId: t.campaignId,
    contactId: t.contactId,
    attempt: t.attempts,
    phoneNumber: maskPhone(t.phoneNumber),
  }
}

/**
 * Phase 5, per task: POSTs `leadMs` before its slot with the slot's absolute time (`notBefore`,
 * Redis clock; the local clock in degraded mode) and the limit, so the worker originates at the
 * slot; records what the worker answered.
 */
async function dialOne(
  deps: DialerDeps,
  item: TaskItem,
  slot: DialSlot,
  ledger: Ledger,
): Promise<Deferral | undefined> {
  const { logger } = deps
  const leadMs = deps.leadMs ?? DEFAULT_LEAD_MS
  await (deps.sleep ?? realSleep)(Math.min(Math.max(0, slot.delayMs - leadMs), deps.maxWaitMs ?? 1100))
  const t = item.task
  // item.key is the task's call id (dialIdempotencyKey): not computed a second time. The slot's
  // keys are set on the fresh command, last as before: `{ ...command, more keys }` is a slow path
  // in V8 (Node 20: ~3 µs per task, issue #17).
  const command = dialCommandFor(t, item.key)
  command.notBefore = slot.notBefore
  command.cpsLimit = slot.limit
  let result: WorkerDialResult
  try {
    result = await deps.worker.dial(command)
  } catch (error) {
    result = { kind: 'error', message: errorMessage(error) }
  }
  switch (result.kind) {
    case 'accepted':
      if (logsAt(logger, 'info')) logger.info('Dial command sent successfully', logContext(command.callId, t))
      ledger.accepted.push(item.key)
      ledger.record(item, 'dialed', undefined, command.callId)
      return undefined
    case 'duplicate':
      if (logsAt(logger, 'info'))
        logger.info('Worker reports this attempt was dialed already', logContext(command.callId, t))
      ledger.accepted.push(item.key)
      ledger.record(item, 'duplicate', 'worker: already dialed', command.callId)
      return undefined
    case 'refused':
      // The dial gate's decision is final: recorded with its reason, never retried.
      logger.warn('Dial gate refused the dial; task dropped', {
        ...logContext(command.callId, t),
        reason: result.reason,
      })
      ledger.record(item, 'dropped', result.reason, command.callId)
      return undefined
    case 'busy':
      // At capacity or draining: a state of the worker, so deferred like a limiter refusal
      // (spends no receive), back after the worker's Retry-After.
      logger.warn('Worker busy; task deferred', {
        ...logContext(command.callId, t),
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
        ...logContext(command.callId, t),
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

/**
 * Phase 6: markers and outcome rows; neither failure may undo or repeat the dials. The two are
 * written at once (Redis and PostgreSQL, neither reads the other): the batch waits for the slower
 * of the two round trips instead of their sum, and still for both before it answers.
 */
async function persist(deps: DialerDeps, ledger: Ledger, outcomes: TaskOutcome[]): Promise<void> {
  await Promise.all([
    settle(
      () => deps.marker.mark(ledger.accepted),
      (error) =>
        deps.logger.warn('Dial markers not written; a redelivery will be refused by the worker instead', {
          error: errorMessage(error),
        }),
    ),
    settle(
      () => deps.outcomes.record(outcomes),
      // The dials happened; failing the batch now would only redeliver them. Say so loudly.
      (error) =>
        deps.logger.error('Task outcomes not recorded (PostgreSQL?)', {
          error: errorMessage(error),
          outcomes: outcomes.length,
        }),
    ),
  ])
}

/** Runs `write` (started at once), handing a failure, thrown or rejected, to `onError`. */
async function settle(write: () => Promise<void>, onError: (error: unknown) => void): Promise<void> {
  try {
    await write()
  } catch (error) {
    onError(error)
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
  return dialItems(deps, readEvent(event))
}

/**
 * handleDialBatch for enriched tasks already typed: those the enrichment built in this process
 * (the local stack's pipe), from values parsed where they entered (the queue body, the campaign
 * row). Not parsed again (issue #17: the dialer's parse was ~60 µs a task, a third of its zod);
 * the Lambda's event crosses a process boundary, so handleDialBatch parses it.
 */
export async function handleEnrichedTasks(
  deps: DialerDeps,
  tasks: readonly EnrichedDialTask[],
): Promise<DialerResponse> {
  return dialItems(deps, tasks.map(taskItem))
}

/** Phases 2 to 7 on the batch's items, whichever way they came in. */
async function dialItems(deps: DialerDeps, items: Item[]): Promise<DialerResponse> {
  const { logger, metrics } = deps
  const ledger = new Ledger()
  const valid = rejectInvalid(items, ledger, logger)
  const todo = await skipMarked(deps, valid, ledger)
  // Each task is logged and recorded the moment its POST ends, so log times show the pacing.
  const { admission, busy: workerDeferrals } = await admitAndDial(deps, todo, ledger, (item, slot) =>
    dialOne(deps, item, slot, ledger),
  )
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
