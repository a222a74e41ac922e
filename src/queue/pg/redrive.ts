import type pg from 'pg'
import type { Db } from '../../db/pool.js'
import { sleep } from '../../clock.js'
import { bestEffort, errorMessage } from '../../errors.js'
import { createLogger } from '../../observability/logger.js'
import { QueueError } from '../limits.js'
import type { RedriveResult } from '../port.js'
import { wakeupsFor } from './wakeups.js'

const logger = createLogger('local-queue')

// DLQ redrive of the local queue (SQS StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask semantics)

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
 * @throws QueueError InvalidParameterValue (rate), QueueDoesNotExist, UnsupportedOperation (not a
 *   DLQ), AlreadyRunning (a redrive of this DLQ is running)
 */
export async function redriveLocal(
  pool: pg.Pool,
  dlqName: string,
  options: LocalRedriveOptions = {},
): Promise<MoveTask & RedriveResult> {
  const sources = await checkRedrive(pool, dlqName, options)
  const started = await startMoveTask(pool, dlqName, options)
  const { rows: bound } = await pool.query<{ max_id: string | null }>(
    'SELECT max(id)::text AS max_id FROM queue_messages WHERE queue = $1',
    [dlqName],
  )
  const plan: MovePlan = {
    dlq: dlqName,
    maxId: bound[0]?.max_id ?? '0',
    destination: options.destination ?? null,
    // Messages sent straight to the DLQ have no origin: they go to its only source queue.
    fallback: sources.length === 1 ? sources[0]! : null,
    handle: started.task_handle,
  }
  let task: MoveTaskRow
  try {
    task = await runMoveTask(pool, plan, options)
  } catch (error) {
    await bestEffort(
      pool.query(
        `UPDATE queue_move_tasks SET status = 'FAILED', failure_reason = $2, finished_at = now() WHERE task_handle = $1`,
        [plan.handle, errorMessage(error)],
      ),
      'the error itself is rethrown to the caller; the row only records it',
    )
    throw error
  }
  const result = toTask(task)
  options.onProgress?.(result)
  if (result.moved > 0) {
    const emitter = wakeupsFor(pool)
    for (const s of options.destination ? [options.destination] : sources) emitter.emit(s)
  }
  logger.info('redrive finished', {
    sourceQueue: dlqName,
    status: result.status,
    moved: result.moved,
    toMove: result.toMove,
  })
  return result
}

/** Phase 1: the rate, the DLQ and the destination are valid. @returns the DLQ's source queues. */
async function checkRedrive(pool: pg.Pool, dlqName: string, options: LocalRedriveOptions): Promise<string[]> {
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
  return sources.map((s) => s.name)
}

/** Phase 2: the task row (one RUNNING task per DLQ, a unique index: 23505 = already running). */
async function startMoveTask(
  pool: pg.Pool,
  dlqName: string,
  options: LocalRedriveOptions,
): Promise<MoveTaskRow> {
  try {
    const { rows } = await pool.query<MoveTaskRow>(
      `INSERT INTO queue_move_tasks (source_queue, destination_queue, max_per_second, to_move)
       SELECT $1, $2, $3, count(*) FROM queue_messages WHERE queue = $1
       RETURNING *`,
      [dlqName, options.destination ?? null, options.maxPerSecond ?? null],
    )
    return rows[0]!
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error
    const [running] = await listLocalRedrives(pool, dlqName, 1)
    throw new QueueError(
      'AlreadyRunning',
      `redrive: a redrive of "${dlqName}" is already running (task ${running?.taskHandle}, ` +
        `${running?.moved}/${running?.toMove} moved); wait for it or cancel it`,
    )
  }
}

/** What one redrive moves: the DLQ's messages up to `maxId` (those there when it started). */
interface MovePlan {
  dlq: string
  maxId: string
  /** the destination for every message; null: each one's moved_from */
  destination: string | null
  /** where a message without moved_from goes; null when the DLQ serves several queues */
  fallback: string | null
  handle: string
}

/**
 * Phase 3: moves chunk by chunk (at most `maxPerSecond` a second) until cancelled or nothing is
 * left. @returns the task's final row.
 */
async function runMoveTask(
  pool: pg.Pool,
  plan: MovePlan,
  options: LocalRedriveOptions,
): Promise<MoveTaskRow> {
  const rate = options.maxPerSecond
  const chunk = Math.min(rate ?? 100, 100)
  let windowStart = Date.now()
  let inWindow = 0
  for (;;) {
    const cancelled = await finishIfCancelling(pool, plan.handle)
    if (cancelled) return cancelled
    if (rate !== undefined && inWindow >= rate) {
      await sleep(Math.max(0, windowStart + 1000 - Date.now()))
      windowStart = Date.now()
      inWindow = 0
    }
    const moved = await moveChunk(pool, plan, rate === undefined ? chunk : Math.min(chunk, rate - inWindow))
    inWindow += moved
    const { rows } = await pool.query<MoveTaskRow>(
      'UPDATE queue_move_tasks SET moved = moved + $2 WHERE task_handle = $1 RETURNING *',
      [plan.handle, moved],
    )
    options.onProgress?.(toTask(rows[0]!))
    if (moved > 0) continue
    const done = await finishIfDone(pool, plan)
    if (done) return done
    // messages of the batch are in flight (being peeked/received): ask again shortly
    await sleep(200)
  }
}

/** A cancel was asked (cancelLocalRedrive): the row marked CANCELLED and returned; else null. */
async function finishIfCancelling(pool: pg.Pool, handle: string): Promise<MoveTaskRow | null> {
  const { rows: state } = await pool.query<{ status: MoveTaskStatus }>(
    'SELECT status FROM queue_move_tasks WHERE task_handle = $1',
    [handle],
  )
  if (state[0]?.status !== 'CANCELLING') return null
  const { rows } = await pool.query<MoveTaskRow>(
    `UPDATE queue_move_tasks SET status = 'CANCELLED', finished_at = now() WHERE task_handle = $1 RETURNING *`,
    [handle],
  )
  return rows[0]!
}

/** Moves up to `take` visible messages, each as a new message on its queue. @returns how many. */
async function moveChunk(pool: pg.Pool, plan: MovePlan, take: number): Promise<number> {
  const { rows } = await pool.query<{ id: string }>(
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
    [plan.dlq, plan.maxId, take, plan.destination, plan.fallback],
  )
  return rows.length
}

/**
 * Nothing movable now: the task is finished when nothing of it is left, or only messages with no
 * queue to go to (FAILED, saying so). @returns the finished row, or null while messages are in flight.
 */
async function finishIfDone(pool: pg.Pool, plan: MovePlan): Promise<MoveTaskRow | null> {
  const { rows: left } = await pool.query<{ n: string; unroutable: string }>(
    `SELECT count(*) AS n, count(*) FILTER (WHERE coalesce($3, moved_from, $4) IS NULL) AS unroutable
     FROM queue_messages WHERE queue = $1 AND id <= $2::bigint`,
    [plan.dlq, plan.maxId, plan.destination, plan.fallback],
  )
  const remaining = Number(left[0]!.n)
  const unroutable = Number(left[0]!.unroutable)
  if (remaining !== 0 && remaining !== unroutable) return null
  const reason =
    unroutable > 0
      ? `${unroutable} message(s) have no source queue recorded and "${plan.dlq}" is the DLQ of several queues; redrive again with a destination`
      : null
  const { rows: done } = await pool.query<MoveTaskRow>(
    `UPDATE queue_move_tasks SET status = $2, failure_reason = $3, finished_at = now()
     WHERE task_handle = $1 RETURNING *`,
    [plan.handle, reason ? 'FAILED' : 'COMPLETED', reason],
  )
  return done[0]!
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
