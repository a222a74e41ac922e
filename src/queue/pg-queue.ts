import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type pg from 'pg'
import { sleep } from '../clock.js'
import type { Db } from '../db/pool.js'
import { createLogger } from '../observability/logger.js'
import {
  QueueError,
  checkBatch,
  checkBody,
  checkMaxMessages,
  checkPeekLimit,
  checkVisibility,
  checkWait,
} from './limits.js'
import {
  DEFAULT_MAX_RECEIVE_COUNT,
  type QueueDepth,
  type QueueMessage,
  type QueuePort,
  type ReceiveOptions,
  type RedriveResult,
  type SendBatchEntry,
  type SendBatchResult,
  type SendResult,
} from './port.js'
import { bestEffort, errorMessage } from '../errors.js'

const logger = createLogger('local-queue')

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
  const queueOptions = { pollIntervalMs: options.pollIntervalMs }
  return { queue: new PgQueue(pool, queueName, queueOptions), dlq: new PgQueue(pool, dlqName, queueOptions) }
}

export interface PgQueueOptions {
  /** how often a long-polling receive looks again when nothing was sent from this process; default 100 */
  pollIntervalMs?: number
}

// Sends from this process wake this process's long-polling receivers at once; other processes'
// sends are seen at the next poll. (No LISTEN: it would pin a connection, which an embedded
// single-connection PostgreSQL cannot spare.)
const wakeups = new WeakMap<pg.Pool, EventEmitter>()
function wakeupsFor(pool: pg.Pool): EventEmitter {
  let emitter = wakeups.get(pool)
  if (!emitter) {
    emitter = new EventEmitter()
    emitter.setMaxListeners(0)
    wakeups.set(pool, emitter)
  }
  return emitter
}

interface MessageRow {
  message_id: string
  receipt_handle: string | null
  body: string
  receive_count: number
  sent_at: Date
  first_received_at: Date | null
  moved_from: string | null
  visible_at: Date
  moved: boolean
  dlq: string | null
}

function toMessage(row: MessageRow): QueueMessage {
  const attributes: Record<string, string> = {
    ApproximateReceiveCount: String(row.receive_count),
    SentTimestamp: String(row.sent_at.getTime()),
    SenderId: 'local',
  }
  if (row.first_received_at)
    attributes.ApproximateFirstReceiveTimestamp = String(row.first_received_at.getTime())
  if (row.moved_from) attributes.DeadLetterQueueSourceArn = row.moved_from
  return {
    messageId: row.message_id,
    receiptHandle: row.receipt_handle ?? '',
    body: row.body,
    receiveCount: row.receive_count,
    sentAt: row.sent_at,
    ...(row.first_received_at ? { firstReceivedAt: row.first_received_at } : {}),
    attributes,
  }
}

/**
 * QueuePort over PostgreSQL with SQS standard-queue semantics: visibility timeout, receive count,
 * a fresh receipt handle per receive, redrive to the DLQ on the receive after maxReceiveCount,
 * and FOR UPDATE SKIP LOCKED so concurrent consumers never get the same visible message.
 */
export class PgQueue implements QueuePort {
  private readonly pollIntervalMs: number
  private known = false

  constructor(
    private readonly pool: pg.Pool,
    readonly name: string,
    options: PgQueueOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 100
  }

  async send(body: string): Promise<SendResult> {
    checkBody(body, `send to "${this.name}"`)
    const messageId = randomUUID()
    await this.insert([messageId], [body])
    return { messageId }
  }

  async sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult> {
    checkBatch(entries)
    const ids = entries.map(() => randomUUID())
    await this.insert(
      ids,
      entries.map((e) => e.body),
    )
    return { successful: entries.map((e, i) => ({ id: e.id, messageId: ids[i]! })), failed: [] }
  }

  private async insert(messageIds: string[], bodies: string[]): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO queue_messages (queue, message_id, body)
         SELECT $1, id, body FROM unnest($2::uuid[], $3::text[]) AS t(id, body)`,
        [this.name, messageIds, bodies],
      )
    } catch (error) {
      throw this.translate(error)
    }
    wakeupsFor(this.pool).emit(this.name)
  }

  async receive(options: ReceiveOptions = {}): Promise<QueueMessage[]> {
    const max = checkMaxMessages(options.maxMessages)
    const visibility =
      options.visibilityTimeoutSeconds === undefined
        ? null
        : checkVisibility(options.visibilityTimeoutSeconds, 'receive: visibilityTimeoutSeconds')
    const deadline = Date.now() + checkWait(options.waitTimeSeconds) * 1000
    await this.assertExists()
    for (;;) {
      const { received, moved } = await this.receiveOnce(max, visibility)
      if (received.length > 0) return received
      // Only DLQ moves this round: there may be more visible messages behind them.
      if (moved > 0) continue
      const left = deadline - Date.now()
      if (left <= 0) return []
      await this.waitForSend(Math.min(this.pollIntervalMs, left))
    }
  }

  private waitForSend(ms: number): Promise<void> {
    const emitter = wakeupsFor(this.pool)
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        emitter.off(this.name, done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      emitter.on(this.name, done)
    })
  }

  /**
   * One statement: lock up to `max` visible messages (skipping rows other consumers hold), move
   * those already received maxReceiveCount times to the DLQ (recording a `dlq` outcome), and
   * receive the rest. Atomic, so a crash never leaves a message half-moved.
   */
  private async receiveOnce(
    max: number,
    visibility: number | null,
  ): Promise<{ received: QueueMessage[]; moved: number }> {
    const { rows } = await this.pool.query<MessageRow & { id: string }>(
      `WITH picked AS (
         SELECT m.id, q.dead_letter_queue AS dlq,
                (q.dead_letter_queue IS NOT NULL AND m.receive_count >= q.max_receive_count) AS to_dlq,
                q.max_receive_count,
                coalesce($3::float8, q.visibility_timeout_seconds) AS visibility
         FROM queue_messages m JOIN queues q ON q.name = m.queue
         WHERE m.queue = $1 AND m.visible_at <= now()
         ORDER BY m.visible_at, m.id
         LIMIT $2
         FOR UPDATE OF m SKIP LOCKED
       ), moved AS (
         UPDATE queue_messages m
         SET queue = p.dlq, moved_from = m.queue, moved_at = now(), visible_at = now(), receipt_handle = NULL
         FROM picked p WHERE m.id = p.id AND p.to_dlq
         RETURNING m.*, true AS moved, p.max_receive_count
       ), recorded AS (
         INSERT INTO task_outcomes (message_id, campaign_id, contact_id, attempt, stage, outcome, reason)
         SELECT message_id::text,
                CASE WHEN jsonb_typeof(j->'campaignId') = 'string' THEN j->>'campaignId' END,
                CASE WHEN jsonb_typeof(j->'contactId') = 'string' THEN j->>'contactId' END,
                CASE WHEN (j->>'attempts') ~ '^[0-9]{1,9}$' THEN (j->>'attempts')::int END,
                'queue', 'dlq',
                format('received %s times (maxReceiveCount %s): moved from %s to %s',
                       receive_count, max_receive_count, moved_from, queue)
         FROM (SELECT *, try_jsonb(body) AS j FROM moved) mv
       ), received AS (
         UPDATE queue_messages m
         SET receive_count = m.receive_count + 1, receipt_handle = gen_random_uuid(),
             first_received_at = coalesce(m.first_received_at, now()),
             visible_at = now() + make_interval(secs => p.visibility)
         FROM picked p WHERE m.id = p.id AND NOT p.to_dlq
         RETURNING m.*, false AS moved
       )
       SELECT id, message_id, receipt_handle, body, receive_count, sent_at, first_received_at, moved_from,
              visible_at, moved, queue AS dlq FROM moved
       UNION ALL
       SELECT id, message_id, receipt_handle, body, receive_count, sent_at, first_received_at, moved_from,
              visible_at, moved, NULL FROM received`,
      [this.name, max, visibility],
    )
    const movedRows = rows.filter((r) => r.moved)
    for (const row of movedRows)
      logger.info('message moved to the dead-letter queue', {
        queue: this.name,
        deadLetterQueue: row.dlq,
        messageId: row.message_id,
        receiveCount: row.receive_count,
      })
    if (movedRows.length > 0) wakeupsFor(this.pool).emit(movedRows[0]!.dlq!)
    const received = rows
      .filter((r) => !r.moved)
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map(toMessage)
    return { received, moved: movedRows.length }
  }

  /** A stale handle (message received again, or already deleted) deletes nothing, as on SQS. */
  async delete(receiptHandle: string): Promise<void> {
    this.checkHandle(receiptHandle, 'delete')
    await this.pool.query('DELETE FROM queue_messages WHERE queue = $1 AND receipt_handle = $2', [
      this.name,
      receiptHandle,
    ])
  }

  /** Deletes many in one round trip (the pipe's successful records); stale handles are skipped. */
  async deleteBatch(receiptHandles: string[]): Promise<number> {
    if (receiptHandles.length === 0) return 0
    receiptHandles.forEach((h) => this.checkHandle(h, 'deleteBatch'))
    const result = await this.pool.query(
      'DELETE FROM queue_messages WHERE queue = $1 AND receipt_handle = ANY($2::uuid[])',
      [this.name, receiptHandles],
    )
    return result.rowCount ?? 0
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    this.checkHandle(receiptHandle, 'changeVisibility')
    const seconds = checkVisibility(visibilityTimeoutSeconds, 'changeVisibility: visibilityTimeoutSeconds')
    const result = await this.pool.query(
      `UPDATE queue_messages SET visible_at = now() + make_interval(secs => $3::float8)
       WHERE queue = $1 AND receipt_handle = $2`,
      [this.name, receiptHandle, seconds],
    )
    if (result.rowCount === 0)
      throw new QueueError(
        'ReceiptHandleIsInvalid',
        `changeVisibility on "${this.name}": the receipt handle is not current — the message was deleted, ` +
          'moved to the DLQ, or received again (each receive issues a new handle). Receive it again to get a fresh one.',
      )
    if (seconds === 0) wakeupsFor(this.pool).emit(this.name)
  }

  async depth(): Promise<QueueDepth> {
    await this.assertExists()
    const { rows } = await this.pool.query<{ visible: string; in_flight: string; oldest: number | null }>(
      `SELECT count(*) FILTER (WHERE visible_at <= now()) AS visible,
              count(*) FILTER (WHERE visible_at > now()) AS in_flight,
              extract(epoch FROM now() - min(sent_at))::float8 AS oldest
       FROM queue_messages WHERE queue = $1`,
      [this.name],
    )
    const row = rows[0]!
    return {
      visible: Number(row.visible),
      inFlight: Number(row.in_flight),
      oldestAgeSeconds: Math.max(0, Math.floor(row.oldest ?? 0)),
    }
  }

  /**
   * Looks without receiving: in-flight messages included, no receive count change, no new handle,
   * queue order (send order) kept. receiptHandle is '' — a peeked message cannot be deleted.
   */
  async peek(limit: number): Promise<QueueMessage[]> {
    checkPeekLimit(limit)
    await this.assertExists()
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT message_id, NULL AS receipt_handle, body, receive_count, sent_at, first_received_at, moved_from,
              visible_at, false AS moved, NULL AS dlq
       FROM queue_messages WHERE queue = $1 ORDER BY id LIMIT $2`,
      [this.name, limit],
    )
    return rows.map((row) => {
      const message = toMessage(row)
      message.attributes!.VisibleAt = String(row.visible_at.getTime())
      return message
    })
  }

  /** Deletes every message, in flight or not (PurgeQueue). */
  async purge(): Promise<number> {
    await this.assertExists()
    const result = await this.pool.query('DELETE FROM queue_messages WHERE queue = $1', [this.name])
    return result.rowCount ?? 0
  }

  /** StartMessageMoveTask from this queue (a DLQ); see redriveLocal. */
  redrive(options: LocalRedriveOptions = {}): Promise<MoveTask & RedriveResult> {
    return redriveLocal(this.pool, this.name, options)
  }

  private checkHandle(handle: string, op: string): void {
    if (typeof handle !== 'string' || !/^[0-9a-f-]{36}$/i.test(handle))
      throw new QueueError(
        'ReceiptHandleIsInvalid',
        `${op} on "${this.name}": "${String(handle).slice(0, 40)}" is not a receipt handle from this queue's receive()`,
      )
  }

  private async assertExists(): Promise<void> {
    if (this.known) return
    const { rowCount } = await this.pool.query('SELECT 1 FROM queues WHERE name = $1', [this.name])
    if (!rowCount) throw this.missing()
    this.known = true
  }

  private missing(): QueueError {
    return new QueueError(
      'QueueDoesNotExist',
      `queue "${this.name}" does not exist in this database/schema. Create it with ensureLocalQueues() ` +
        '(dialctl dev does this at start), or check DATABASE_URL / DATABASE_SCHEMA.',
    )
  }

  private translate(error: unknown): unknown {
    const code = (error as { code?: string }).code
    if (code === '23503') return this.missing()
    if (code === '42P01')
      return new QueueError(
        'QueueDoesNotExist',
        'the local queue tables are missing: run the migrations (dialctl db migrate, or dialctl dev)',
      )
    return error
  }
}

// ---------------------------------------------------------------------------------------------
// DLQ redrive (SQS StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask semantics)

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED'

/** One DLQ redrive, local or on AWS (ListMessageMoveTasks' fields). */
export interface MoveTask {
  taskHandle: string
  /** the DLQ: a local queue name, or the SQS queue ARN */
  source: string
  /** undefined: each message goes back to the queue it was moved from */
  destination?: string
  status: MoveTaskStatus
  maxPerSecond?: number
  /** ApproximateNumberOfMessagesToMove: messages in the DLQ when the task started */
  toMove: number
  /** ApproximateNumberOfMessagesMoved */
  moved: number
  failureReason?: string
  startedAt: Date
  finishedAt?: Date
}

export interface LocalRedriveOptions {
  /** default: each message's original source queue */
  destination?: string
  /** MaxNumberOfMessagesPerSecond, 1–500 (SQS's range); default as fast as possible */
  maxPerSecond?: number
  onProgress?: (task: MoveTask) => void
}

interface MoveTaskRow {
  task_handle: string
  source_queue: string
  destination_queue: string | null
  status: MoveTaskStatus
  max_per_second: number | null
  to_move: number
  moved: number
  failure_reason: string | null
  started_at: Date
  finished_at: Date | null
}

function toTask(row: MoveTaskRow): MoveTask {
  return {
    taskHandle: row.task_handle,
    source: row.source_queue,
    ...(row.destination_queue ? { destination: row.destination_queue } : {}),
    status: row.status,
    ...(row.max_per_second ? { maxPerSecond: row.max_per_second } : {}),
    toMove: row.to_move,
    moved: row.moved,
    ...(row.failure_reason ? { failureReason: row.failure_reason } : {}),
    startedAt: row.started_at,
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
  }
}

/**
 * Moves the messages that are in `dlqName` when it starts back to their source queue (or to
 * `destination`), oldest first, at most `maxPerSecond` a second. As on SQS, each moved message is
 * a new message: new message id, new sent time, receive count 0. Runs to the end and resolves
 * with the finished task; progress is in queue_move_tasks for other processes (listLocalRedrives).
 */
export async function redriveLocal(
  pool: pg.Pool,
  dlqName: string,
  options: LocalRedriveOptions = {},
): Promise<MoveTask & RedriveResult> {
  const rate = options.maxPerSecond
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > 500))
    throw new QueueError(
      'InvalidParameterValue',
      `redrive: maxPerSecond is ${rate}; it must be an integer from 1 to 500 (SQS's MaxNumberOfMessagesPerSecond range)`,
    )
  const { rows: sources } = await pool.query<{ name: string }>(
    'SELECT name FROM queues WHERE dead_letter_queue = $1 ORDER BY name',
    [dlqName],
  )
  const { rowCount: dlqExists } = await pool.query('SELECT 1 FROM queues WHERE name = $1', [dlqName])
  if (!dlqExists) throw new QueueError('QueueDoesNotExist', `redrive: queue "${dlqName}" does not exist`)
  if (sources.length === 0)
    throw new QueueError(
      'UnsupportedOperation',
      `redrive: "${dlqName}" is not the dead-letter queue of any queue; only DLQs can be redriven (as on SQS)`,
    )
  if (options.destination) {
    const { rowCount } = await pool.query('SELECT 1 FROM queues WHERE name = $1', [options.destination])
    if (!rowCount)
      throw new QueueError(
        'QueueDoesNotExist',
        `redrive: destination queue "${options.destination}" does not exist`,
      )
  }
  // Messages sent straight to the DLQ have no origin: they go to its only source queue.
  const fallback = sources.length === 1 ? sources[0]!.name : null

  let task: MoveTaskRow
  try {
    const { rows } = await pool.query<MoveTaskRow>(
      `INSERT INTO queue_move_tasks (source_queue, destination_queue, max_per_second, to_move)
       SELECT $1, $2, $3, count(*) FROM queue_messages WHERE queue = $1
       RETURNING *`,
      [dlqName, options.destination ?? null, rate ?? null],
    )
    task = rows[0]!
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      const [running] = await listLocalRedrives(pool, dlqName, 1)
      throw new QueueError(
        'AlreadyRunning',
        `redrive: a redrive of "${dlqName}" is already running (task ${running?.taskHandle}, ` +
          `${running?.moved}/${running?.toMove} moved); wait for it or cancel it`,
      )
    }
    throw error
  }
  const { rows: bound } = await pool.query<{ max_id: string | null }>(
    'SELECT max(id)::text AS max_id FROM queue_messages WHERE queue = $1',
    [dlqName],
  )
  const maxId = bound[0]?.max_id ?? '0'
  const chunk = Math.min(rate ?? 100, 100)
  let windowStart = Date.now()
  let inWindow = 0
  try {
    for (;;) {
      const { rows: state } = await pool.query<{ status: MoveTaskStatus }>(
        'SELECT status FROM queue_move_tasks WHERE task_handle = $1',
        [task.task_handle],
      )
      if (state[0]?.status === 'CANCELLING') {
        const { rows } = await pool.query<MoveTaskRow>(
          `UPDATE queue_move_tasks SET status = 'CANCELLED', finished_at = now() WHERE task_handle = $1 RETURNING *`,
          [task.task_handle],
        )
        task = rows[0]!
        break
      }
      if (rate !== undefined && inWindow >= rate) {
        await sleep(Math.max(0, windowStart + 1000 - Date.now()))
        windowStart = Date.now()
        inWindow = 0
      }
      const take = rate === undefined ? chunk : Math.min(chunk, rate - inWindow)
      const { rows: movedRows } = await pool.query<{ id: string }>(
        `WITH picked AS (
           SELECT id FROM queue_messages
           WHERE queue = $1 AND id <= $2::bigint AND visible_at <= now()
           ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
         )
         UPDATE queue_messages m
         SET queue = coalesce($4, m.moved_from, $5), message_id = gen_random_uuid(), sent_at = now(),
             visible_at = now(), receive_count = 0, first_received_at = NULL, receipt_handle = NULL,
             moved_from = NULL, moved_at = NULL
         FROM picked WHERE m.id = picked.id AND coalesce($4, m.moved_from, $5) IS NOT NULL
         RETURNING m.id`,
        [dlqName, maxId, take, options.destination ?? null, fallback],
      )
      inWindow += movedRows.length
      const { rows } = await pool.query<MoveTaskRow>(
        'UPDATE queue_move_tasks SET moved = moved + $2 WHERE task_handle = $1 RETURNING *',
        [task.task_handle, movedRows.length],
      )
      task = rows[0]!
      options.onProgress?.(toTask(task))
      if (movedRows.length > 0) continue
      // Nothing movable now: done, unless messages of the batch are in flight (being peeked/received).
      const { rows: left } = await pool.query<{ n: string; unroutable: string }>(
        `SELECT count(*) AS n, count(*) FILTER (WHERE coalesce($3, moved_from, $4) IS NULL) AS unroutable
         FROM queue_messages WHERE queue = $1 AND id <= $2::bigint`,
        [dlqName, maxId, options.destination ?? null, fallback],
      )
      const remaining = Number(left[0]!.n)
      const unroutable = Number(left[0]!.unroutable)
      if (remaining === 0 || remaining === unroutable) {
        const reason =
          unroutable > 0
            ? `${unroutable} message(s) have no source queue recorded and "${dlqName}" is the DLQ of several queues; redrive again with a destination`
            : null
        const { rows: done } = await pool.query<MoveTaskRow>(
          `UPDATE queue_move_tasks SET status = $2, failure_reason = $3, finished_at = now()
           WHERE task_handle = $1 RETURNING *`,
          [task.task_handle, reason ? 'FAILED' : 'COMPLETED', reason],
        )
        task = done[0]!
        break
      }
      await sleep(200)
    }
  } catch (error) {
    await bestEffort(
      pool.query(
        `UPDATE queue_move_tasks SET status = 'FAILED', failure_reason = $2, finished_at = now() WHERE task_handle = $1`,
        [task.task_handle, errorMessage(error)],
      ),
      'the error itself is rethrown to the caller; the row only records it',
    )
    throw error
  }
  const result = toTask(task)
  options.onProgress?.(result)
  if (result.moved > 0) {
    const emitter = wakeupsFor(pool)
    for (const s of options.destination ? [options.destination] : sources.map((s) => s.name)) emitter.emit(s)
  }
  logger.info('redrive finished', {
    sourceQueue: dlqName,
    status: result.status,
    moved: result.moved,
    toMove: result.toMove,
  })
  return result
}

/** The most recent move tasks of a DLQ, newest first (ListMessageMoveTasks returns up to 10). */
export async function listLocalRedrives(db: Db, dlqName: string, limit = 10): Promise<MoveTask[]> {
  const { rows } = await db.query<MoveTaskRow>(
    'SELECT * FROM queue_move_tasks WHERE source_queue = $1 ORDER BY started_at DESC LIMIT $2',
    [dlqName, limit],
  )
  return rows.map(toTask)
}

/** Asks a running redrive to stop (CancelMessageMoveTask); it stops after its current chunk. */
export async function cancelLocalRedrive(db: Db, taskHandle: string): Promise<MoveTask> {
  const { rows } = await db.query<MoveTaskRow>(
    `UPDATE queue_move_tasks SET status = 'CANCELLING' WHERE task_handle = $1 AND status = 'RUNNING' RETURNING *`,
    [taskHandle],
  )
  if (!rows[0])
    throw new QueueError(
      'ResourceNotFoundException',
      `cancel redrive: no running task ${taskHandle}; list them with listLocalRedrives()`,
    )
  return toTask(rows[0])
}
