import type pg from 'pg'
import type { Db } from '../../db/pool.js'
import { QueueError, checkVisibility } from '../limits.js'
import { DEFAULT_MAX_RECEIVE_COUNT } from '../port.js'
import { PgQueue, type DeadLetterHook } from './ops.js'

/** Queue administration of the local queue (CreateQueue / SetQueueAttributes semantics). */
export const DEFAULT_QUEUE_NAME = 'dial-tasks'
export const DEFAULT_DLQ_NAME = 'dial-tasks-dlq'
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30

export interface LocalQueueConfig {
  /** used when receive() does not give one; SQS's VisibilityTimeout attribute */
  visibilityTimeoutSeconds?: number
  /** SQS's RedrivePolicy: after maxReceiveCount receives the next receive moves the message here */
  redrivePolicy?: { deadLetterQueue: string; maxReceiveCount: number }
}

/** Creates the queue, or updates its settings (CreateQueue + SetQueueAttributes). */
export async function createLocalQueue(db: Db, name: string, config: LocalQueueConfig = {}): Promise<void> {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name))
    throw new QueueError(
      'InvalidParameterValue',
      `queue name "${name}": use 1–80 characters of A-Z, a-z, 0-9, - or _ (as SQS does)`,
    )
  const visibility = checkVisibility(
    config.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    `queue "${name}" visibilityTimeoutSeconds`,
  )
  const policy = config.redrivePolicy
  if (policy) {
    if (
      !Number.isInteger(policy.maxReceiveCount) ||
      policy.maxReceiveCount < 1 ||
      policy.maxReceiveCount > 1000
    )
      throw new QueueError(
        'InvalidParameterValue',
        `queue "${name}" redrivePolicy.maxReceiveCount is ${policy.maxReceiveCount}; it must be an integer from 1 to 1000`,
      )
    if (policy.deadLetterQueue === name)
      throw new QueueError('InvalidParameterValue', `queue "${name}" cannot be its own dead-letter queue`)
  }
  try {
    await db.query(
      `INSERT INTO queues (name, visibility_timeout_seconds, dead_letter_queue, max_receive_count)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET visibility_timeout_seconds = EXCLUDED.visibility_timeout_seconds,
         dead_letter_queue = EXCLUDED.dead_letter_queue, max_receive_count = EXCLUDED.max_receive_count`,
      [name, visibility, policy?.deadLetterQueue ?? null, policy?.maxReceiveCount ?? null],
    )
  } catch (error) {
    if ((error as { code?: string }).code === '23503')
      throw new QueueError(
        'QueueDoesNotExist',
        `queue "${name}": its dead-letter queue "${policy?.deadLetterQueue}" does not exist; create the DLQ first`,
      )
    throw error
  }
}

export interface LocalQueuesOptions {
  queueName?: string
  dlqName?: string
  maxReceiveCount?: number
  visibilityTimeoutSeconds?: number
  pollIntervalMs?: number
  /**
   * Called in the same transaction as each move to the DLQ (the caller records what a dead
   * letter means to it — the local stack writes the dial task's `dlq` outcome).
   */
  onDeadLetter?: DeadLetterHook
}

/**
 * The local stack's pair: `dial-tasks` with a redrive policy to `dial-tasks-dlq` after 3 receives.
 * Idempotent: run at every start of `dialctl dev`.
 */
export async function ensureLocalQueues(
  pool: pg.Pool,
  options: LocalQueuesOptions = {},
): Promise<{ queue: PgQueue; dlq: PgQueue }> {
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME
  const dlqName = options.dlqName ?? DEFAULT_DLQ_NAME
  // The DLQ keeps messages until someone looks: a long visibility so `dlq list` style peeks are cheap.
  await createLocalQueue(pool, dlqName, { visibilityTimeoutSeconds: DEFAULT_VISIBILITY_TIMEOUT_SECONDS })
  await createLocalQueue(pool, queueName, {
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    redrivePolicy: {
      deadLetterQueue: dlqName,
      maxReceiveCount: options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT,
    },
  })
  const queueOptions = {
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    ...(options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {}),
  }
  return { queue: new PgQueue(pool, queueName, queueOptions), dlq: new PgQueue(pool, dlqName, queueOptions) }
}
