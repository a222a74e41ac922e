import {
  callIdFor,
  describeZodError,
  dialIdempotencyKey,
  EnrichedDialTask,
  type EnrichedDialTask as Task,
} from '../contracts/index.js'
import type { Logger } from '../observability/logger.js'
import { maskPhone } from '../observability/mask.js'
import { MetricName } from '../observability/metrics.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import type { AdmissionLimiter } from '../pacing/limiter.js'
import type { LimitStore } from '../pacing/limit-store.js'
import type { DialMarker } from './dial-marker.js'
import {
  realSleep,
  type DialerResponse,
  type MetricsPort,
  type OutcomeRecorder,
  type Sleep,
} from './ports.js'
import { dialCommandFor, type WorkerClient, type WorkerDialResult } from './worker-client.js'

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
}

type Fate = 'dialed' | 'duplicate' | 'dropped' | 'rate_limited' | 'busy' | 'failed'

interface Item {
  /** position in the batch: outcomes and failures are reported in batch order */
  index: number
  messageId: string
  task?: Task
  invalid?: string
}

/** Splits the Pipes event into tasks; a record without messageId cannot be reported alone. */
function readEvent(event: unknown): Item[] {
  if (!Array.isArray(event))
    throw new Error(
      `dialer: the event must be the enrichment's list of tasks (got ${event === null ? 'null' : typeof event}); check the pipe's target input`,
    )
  return event.map((raw: unknown, index) => {
    const messageId = (raw as { messageId?: unknown } | null)?.messageId
    if (typeof messageId !== 'string' || messageId.length === 0)
      // Throwing fails the whole batch (retried, then DLQ): better than dropping a task we
      // cannot name in batchItemFailures.
      throw new Error(`dialer: item ${index} has no messageId; enrichment must keep each record's messageId`)
    const parsed = EnrichedDialTask.safeParse(raw)
    return parsed.success
      ? { index, messageId, task: parsed.data }
      : { index, messageId, invalid: describeZodError(parsed.error) }
  })
}

/**
 * The dialer target of the pipe. Per task: already accepted (marker) → duplicate, no CPS used;
 * not admitted by the limiter → rate_limited, retried; admitted → waits for its slot, POST /dial.
 * Worker 202 → dialed; 200 duplicate → duplicate; 429 / 503 → retried; timeout / 5xx / network →
 * failed and retried, the rest of the batch goes on (seed scenario 3).
 */
export async function handleDialBatch(deps: DialerDeps, event: unknown): Promise<DialerResponse> {
  const { logger, metrics } = deps
  const sleep = deps.sleep ?? realSleep
  const maxWaitMs = deps.maxWaitMs ?? 1100
  const items = readEvent(event)
  const decided: { index: number; outcome: TaskOutcome; retry: boolean }[] = []
  const counts: Record<Fate, number> = {
    dialed: 0,
    duplicate: 0,
    dropped: 0,
    rate_limited: 0,
    busy: 0,
    failed: 0,
  }

  const record = (item: Item, fate: Fate, reason?: string, callId?: string) => {
    counts[fate]++
    const t = item.task
    decided.push({
      index: item.index,
      retry: fate !== 'dialed' && fate !== 'duplicate' && fate !== 'dropped',
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

  const valid: Item[] = []
  for (const item of items) {
    if (item.invalid) {
      logger.error('Invalid dial task; returned for retry (it will reach the DLQ)', {
        messageId: item.messageId,
        error: item.invalid,
      })
      record(item, 'failed', `invalid task: ${item.invalid}`)
    } else valid.push(item)
  }

  // Redelivered tasks whose dial was accepted already: no slot, no POST.
  const keys = valid.map((i) => dialIdempotencyKey(i.task!))
  let marked = keys.map(() => false)
  try {
    marked = await deps.marker.marked(keys)
  } catch (error) {
    logger.warn('Dial markers unreadable; the worker still refuses double dials', {
      error: (error as Error).message,
    })
  }
  const seen = new Set<string>()
  const todo: Item[] = []
  valid.forEach((item, i) => {
    const key = keys[i]!
    if (marked[i] || seen.has(key)) {
      record(
        item,
        'duplicate',
        marked[i] ? 'already dialed (marker)' : 'same task twice in one batch',
        callIdFor(item.task!),
      )
    } else {
      seen.add(key)
      todo.push(item)
    }
  })

  const { limit, source } = await deps.limitStore.getLimit()
  const admission = todo.length
    ? await deps.limiter.admit(todo.length, limit)
    : { delaysMs: [], mode: 'redis' as const, limit }
  const admitted = todo.slice(0, admission.delaysMs.length)
  const refused = todo.slice(admission.delaysMs.length)
  for (const item of refused) record(item, 'rate_limited', `limit ${admission.limit} CPS (${admission.mode})`)
  if (refused.length)
    logger.info('Rate limit reached: tasks returned to the queue for retry', {
      rateLimited: refused.length,
      admitted: admitted.length,
      limit: admission.limit,
      limitSource: source,
      mode: admission.mode,
    })

  // Each task is logged and recorded the moment its POST ends, so log times show the pacing.
  const accepted: string[] = []
  await Promise.all(
    admitted.map(async (item, i) => {
      await sleep(Math.min(admission.delaysMs[i]!, maxWaitMs))
      const t = item.task!
      const command = dialCommandFor(t)
      let result: WorkerDialResult
      try {
        result = await deps.worker.dial(command)
      } catch (error) {
        result = { kind: 'error', message: (error as Error).message }
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
          accepted.push(dialIdempotencyKey(t))
          record(item, 'dialed', undefined, command.callId)
          break
        case 'duplicate':
          logger.info('Worker reports this attempt was dialed already', context)
          accepted.push(dialIdempotencyKey(t))
          record(item, 'duplicate', 'worker: already dialed', command.callId)
          break
        case 'refused':
          logger.warn('Worker refused the dial for good; task dropped', { ...context, reason: result.reason })
          record(item, 'dropped', result.reason, command.callId)
          break
        case 'busy':
          logger.warn('Worker busy; task returned for retry', {
            ...context,
            status: result.status,
            error: result.message,
          })
          record(item, 'busy', `worker ${result.status}: ${result.message}`, command.callId)
          break
        case 'error':
          logger.error('Dial command failed; task returned for retry', {
            ...context,
            status: result.status,
            error: result.message,
          })
          record(item, 'failed', result.message, command.callId)
          break
      }
    }),
  )

  decided.sort((a, b) => a.index - b.index)
  const outcomes = decided.map((d) => d.outcome)
  const failures = decided.filter((d) => d.retry).map((d) => d.outcome.messageId!)
  try {
    await deps.marker.mark(accepted)
  } catch (error) {
    logger.warn('Dial markers not written; a redelivery will be refused by the worker instead', {
      error: (error as Error).message,
    })
  }
  try {
    await deps.outcomes.record(outcomes)
  } catch (error) {
    // The dials happened; failing the batch now would only redeliver them. Say so loudly.
    logger.error('Task outcomes not recorded (PostgreSQL?)', {
      error: (error as Error).message,
      outcomes: outcomes.length,
    })
  }

  if (admission.admittedThisSecond !== undefined)
    metrics.addMetric(MetricName.CurrentCPS, 'Count', admission.admittedThisSecond)
  // The live limit this batch applied: the CpsNearLimit alarm divides CurrentCPS by it.
  metrics.addMetric(MetricName.CpsLimit, 'Count', admission.limit)
  metrics.addMetric(MetricName.DialedTasks, 'Count', counts.dialed)
  metrics.addMetric(MetricName.RateLimitedTasks, 'Count', counts.rate_limited + counts.busy)
  metrics.addMetric(MetricName.DuplicateDials, 'Count', counts.duplicate)
  metrics.addMetric(MetricName.DialerWorkerErrors, 'Count', counts.failed)
  metrics.addMetric(MetricName.RedisDegradedMode, 'Count', admission.mode === 'degraded' ? 1 : 0)

  logger.info('Dial batch done', {
    tasks: items.length,
    ...counts,
    limit: admission.limit,
    mode: admission.mode,
  })
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) }
}
