import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { createLogger } from '../../observability/logger.js'
import {
  QueueError,
  checkBatch,
  checkBody,
  checkDelay,
  checkMaxMessages,
  checkPeekLimit,
  checkVisibility,
  checkWait,
} from '../limits.js'
import {
  SQS_MAX_BATCH,
  type DeferEntry,
  type DeferResult,
  type QueueDepth,
  type QueueMessage,
  type QueuePort,
  type ReceiveOptions,
  type RedriveResult,
  type SendBatchEntry,
  type SendBatchResult,
  type SendOptions,
  type SendResult,
} from '../port.js'
import { moveToDeadLetter, parseHandles, receiveVisible, type DeadLetterHook } from './receive.js'
import { redriveLocal, type LocalRedriveOptions, type MoveTask } from './redrive.js'
import { wakeupsFor } from './wakeups.js'

export type { DeadLetterCauses, DeadLetteredMessage, DeadLetterHook } from './receive.js'

const logger = createLogger('local-queue')

export interface PgQueueOptions {
  /** how often a long-polling receive looks again when nothing was sent from this process; default 100 */
  pollIntervalMs?: number
  /** see DeadLetterHook; without one, moves to the DLQ are recorded nowhere but the DLQ */
  onDeadLetter?: DeadLetterHook
}

/** A row as peek reads it (no handle: a peeked message cannot be deleted). */
interface MessageRow {
  message_id: string
  body: string
  receive_count: number
  sent_at: Date
  first_received_at: Date | null
  moved_from: string | null
  visible_at: Date
  trace_header: string | null
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
  if (row.trace_header) attributes.AWSTraceHeader = row.trace_header
  return {
    messageId: row.message_id,
    receiptHandle: '',
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
  private readonly onDeadLetter?: DeadLetterHook
  private known = false

  constructor(
    private readonly pool: pg.Pool,
    readonly name: string,
    options: PgQueueOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 100
    this.onDeadLetter = options.onDeadLetter
  }

  async send(body: string, options: SendOptions = {}): Promise<SendResult> {
    checkBody(body, `send to "${this.name}"`)
    const delay = checkDelay(options.delaySeconds ?? 0, `send to "${this.name}": delaySeconds`)
    const messageId = randomUUID()
    await this.insert([messageId], [body], [delay], [options.traceHeader ?? null])
    return { messageId }
  }

  async sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult> {
    checkBatch(entries)
    const ids = entries.map(() => randomUUID())
    await this.insert(
      ids,
      entries.map((e) => e.body),
      entries.map((e) => e.delaySeconds ?? 0),
      entries.map((e) => e.traceHeader ?? null),
    )
    return { successful: entries.map((e, i) => ({ id: e.id, messageId: ids[i]! })), failed: [] }
  }

  /**
   * One statement (queue_send, 0014_queue_functions.sql); the queue's existence is checked once
   * for it, not per row (no foreign key).
   */
  private async insert(messageIds: string[], bodies: string[], delays: number[], headers: (string | null)[]) {
    let inserted: number
    try {
      const { rows } = await this.pool.query<{ n: number }>('SELECT queue_send($1, $2, $3, $4, $5) AS n', [
        this.name,
        messageIds,
        bodies,
        delays,
        headers,
      ])
      inserted = rows[0]?.n ?? 0
    } catch (error) {
      throw this.translate(error)
    }
    if (inserted < messageIds.length) throw this.missing()
    if (delays.some((d) => d === 0)) wakeupsFor(this.pool).emit(this.name)
  }

  /**
   * What SqsQueue.defer does, in one statement: each body goes back as a new message (new id,
   * receive count 0, visible after its delay) and the received copy is deleted. Where SQS cannot
   * tell a stale handle apart, this queue can, and does better: a copy whose handle is stale (it
   * became visible and was received again, or was deleted) is not re-sent — whoever holds it now
   * decides its fate. Re-sending it anyway multiplied a task once per redelivery when the
   * visibility timeout was shorter than a batch's slot wait (the faults suite's redelivery case).
   * Such entries come back in `failed` (code StaleReceiptHandle); nothing is lost, the copy is
   * still in the queue.
   */
  async defer(entries: DeferEntry[]): Promise<DeferResult> {
    if (entries.length === 0) return { deferred: [], failed: [] }
    if (entries.length > SQS_MAX_BATCH)
      throw new QueueError(
        'TooManyEntriesInBatchRequest',
        `defer: ${entries.length} entries; the limit is ${SQS_MAX_BATCH} per call. Split the list into chunks of ${SQS_MAX_BATCH}.`,
      )
    const handles = parseHandles(
      entries.map((e) => e.receiptHandle),
      this.name,
      'defer',
    )
    entries.forEach((e, i) => {
      checkBody(e.body, `defer entry #${i}`)
      checkDelay(e.delaySeconds, `defer entry #${i} delaySeconds`)
    })
    const ids = entries.map(() => randomUUID())
    let resent: Set<number>
    try {
      // data-modifying CTEs run once whether read or not: `sent` re-sends exactly what `held` deleted
      const { rows } = await this.pool.query<{ i: number }>(
        `WITH t AS (
           SELECT * FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::bigint[], $6::uuid[], $7::text[])
                  WITH ORDINALITY AS t(id, body, delay, row_id, handle, header, i)
         ), held AS (
           DELETE FROM queue_messages m USING t
            WHERE m.queue = $1 AND m.id = t.row_id AND m.receipt_handle = t.handle
           RETURNING t.i, m.trace_header
         ), sent AS (
           -- the new copy stays in the task's trace: the deferral's header, else the old copy's
           INSERT INTO queue_messages (queue, message_id, body, visible_at, trace_header)
           SELECT $1, t.id, t.body, now() + make_interval(secs => t.delay), coalesce(t.header, h.trace_header)
             FROM t JOIN held h ON h.i = t.i
         )
         SELECT (i - 1)::int AS i FROM held`,
        [
          this.name,
          ids,
          entries.map((e) => e.body),
          entries.map((e) => e.delaySeconds),
          handles.ids,
          handles.uuids,
          entries.map((e) => e.traceHeader ?? null),
        ],
      )
      resent = new Set(rows.map((r) => r.i))
    } catch (error) {
      throw this.translate(error)
    }
    const deferred = ids.flatMap((messageId, index) => (resent.has(index) ? [{ index, messageId }] : []))
    const failed = entries.flatMap((_, index) =>
      resent.has(index)
        ? []
        : [
            {
              index,
              code: 'StaleReceiptHandle',
              message: 'the copy was received again or deleted; not re-sent',
            },
          ],
    )
    if (entries.some((e, i) => resent.has(i) && e.delaySeconds === 0)) wakeupsFor(this.pool).emit(this.name)
    return { deferred, failed }
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
      const { received, due } = await this.receiveOnce(max, visibility)
      if (received.length > 0) {
        if (due.length > 0) await this.moveDue(due)
        return received
      }
      // Only messages due for the DLQ this round: there may be more visible messages behind them.
      if (due.length > 0) {
        await this.moveDue(due)
        continue
      }
      const left = deadline - Date.now()
      if (left <= 0) return []
      await this.waitForSend(Math.min(this.pollIntervalMs, left))
    }
  }

  /** One look: what is visible now (one statement), and the rows due for the DLQ. */
  private receiveOnce(max: number, visibility: number | null) {
    return receiveVisible(this.pool, this.name, max, visibility)
  }

  /** The redrive policy's move (with the dead-letter hook in its transaction), logged. */
  private async moveDue(ids: string[]): Promise<void> {
    const { moved, causes } = await moveToDeadLetter(this.pool, this.name, ids, this.onDeadLetter)
    // WARN, not INFO: a dead letter is a task that will not be dialed until an operator acts.
    for (const m of moved)
      logger.warn(
        `Task moved to the dead-letter queue after ${m.receiveCount} receives; inspect with: dialctl dlq list`,
        {
          queue: this.name,
          deadLetterQueue: m.deadLetterQueue,
          messageId: m.messageId,
          receiveCount: m.receiveCount,
          reason: `received ${m.receiveCount} times (maxReceiveCount ${m.maxReceiveCount})`,
          ...(causes?.get(m.messageId) ? { lastFailure: causes.get(m.messageId) } : {}),
          next: 'dialctl dlq list',
        },
      )
    if (moved.length > 0) wakeupsFor(this.pool).emit(moved[0]!.deadLetterQueue)
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

  /** A stale handle (message received again, or already deleted) deletes nothing, as on SQS. */
  async delete(receiptHandle: string): Promise<void> {
    await this.deleteBatch([receiptHandle], 'delete')
  }

  /** Deletes many in one round trip (the pipe's successful records); stale handles are skipped. */
  async deleteBatch(receiptHandles: string[], op = 'deleteBatch'): Promise<number> {
    if (receiptHandles.length === 0) return 0
    const { ids, uuids } = parseHandles(receiptHandles, this.name, op)
    // queue_delete (0014_queue_functions.sql): by primary key, the handle's uuid compared
    const { rows } = await this.pool.query<{ n: number }>('SELECT queue_delete($1, $2, $3) AS n', [
      this.name,
      ids,
      uuids,
    ])
    return rows[0]?.n ?? 0
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    const { ids, uuids } = parseHandles([receiptHandle], this.name, 'changeVisibility')
    const seconds = checkVisibility(visibilityTimeoutSeconds, 'changeVisibility: visibilityTimeoutSeconds')
    const result = await this.pool.query(
      `UPDATE queue_messages SET visible_at = now() + make_interval(secs => $4::float8)
       WHERE queue = $1 AND id = $2 AND receipt_handle = $3`,
      [this.name, ids[0], uuids[0], seconds],
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
      `SELECT message_id, body, receive_count, sent_at, first_received_at, moved_from, visible_at, trace_header
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
    // 42P01 no such table, 42883 no such function: the migrations have not run on this schema
    if (code === '42P01' || code === '42883')
      return new QueueError(
        'QueueDoesNotExist',
        'the local queue tables are missing: run the migrations (dialctl db migrate, or dialctl dev)',
      )
    return error
  }
}
