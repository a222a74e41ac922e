import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { Db } from '../../db/pool.js'
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
import { redriveLocal, type LocalRedriveOptions, type MoveTask } from './redrive.js'
import { wakeupsFor } from './wakeups.js'

const logger = createLogger('local-queue')

/** A message the redrive policy just moved to the DLQ, as the dead-letter hook sees it. */
export interface DeadLetteredMessage {
  messageId: string
  body: string
  receiveCount: number
  maxReceiveCount: number
  /** the queue it was moved from, and the DLQ it was moved to */
  sourceQueue: string
  deadLetterQueue: string
}

/**
 * Runs inside the transaction that moves the messages (`db` is that transaction's client): if it
 * throws, the move is rolled back and the messages stay where they were, so a dead letter is never
 * without the record the caller wants of it.
 */
export type DeadLetterHook = (db: Db, moved: DeadLetteredMessage[]) => Promise<DeadLetterCauses | void>

/** messageId → why its last receive failed, as the hook's caller knows it (logged with the move). */
export type DeadLetterCauses = ReadonlyMap<string, string>

export interface PgQueueOptions {
  /** how often a long-polling receive looks again when nothing was sent from this process; default 100 */
  pollIntervalMs?: number
  /** see DeadLetterHook; without one, moves to the DLQ are recorded nowhere but the DLQ */
  onDeadLetter?: DeadLetterHook
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

  private async insert(messageIds: string[], bodies: string[], delays: number[], headers: (string | null)[]) {
    try {
      await this.pool.query(
        `INSERT INTO queue_messages (queue, message_id, body, visible_at, trace_header)
         SELECT $1, id, body, now() + make_interval(secs => delay), header
         FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::text[]) AS t(id, body, delay, header)`,
        [this.name, messageIds, bodies, delays, headers],
      )
    } catch (error) {
      throw this.translate(error)
    }
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
    entries.forEach((e, i) => {
      this.checkHandle(e.receiptHandle, 'defer')
      checkBody(e.body, `defer entry #${i}`)
      checkDelay(e.delaySeconds, `defer entry #${i} delaySeconds`)
    })
    const ids = entries.map(() => randomUUID())
    let resent: Set<number>
    try {
      const { rows } = await this.pool.query<{ i: number }>(
        `WITH held AS (
           DELETE FROM queue_messages WHERE queue = $1 AND receipt_handle = ANY($5::uuid[])
           RETURNING receipt_handle, trace_header
         ), sent AS (
           INSERT INTO queue_messages (queue, message_id, body, visible_at, trace_header)
           SELECT $1, t.id, t.body, now() + make_interval(secs => t.delay), coalesce(t.header, h.trace_header)
             FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::uuid[], $6::text[]) WITH ORDINALITY
                  AS t(id, body, delay, handle, header, i)
             JOIN held h ON h.receipt_handle = t.handle
           RETURNING message_id
         )
         SELECT (t.i - 1)::int AS i FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, i)
          WHERE t.id IN (SELECT message_id FROM sent)`,
        [
          this.name,
          ids,
          entries.map((e) => e.body),
          entries.map((e) => e.delaySeconds),
          entries.map((e) => e.receiptHandle),
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
   * those already received maxReceiveCount times to the DLQ, and receive the rest. Atomic, so a
   * crash never leaves a message half-moved; with a dead-letter hook the statement and the hook
   * share one transaction.
   */
  private async receiveOnce(
    max: number,
    visibility: number | null,
  ): Promise<{ received: QueueMessage[]; moved: number }> {
    if (!this.onDeadLetter) return this.receiveStatement(this.pool, max, visibility)
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const result = await this.receiveStatement(client, max, visibility)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }

  private async receiveStatement(
    db: Db,
    max: number,
    visibility: number | null,
  ): Promise<{ received: QueueMessage[]; moved: number }> {
    const { rows } = await db.query<MessageRow & { id: string; max_receive_count: number | null }>(
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
       ), received AS (
         UPDATE queue_messages m
         SET receive_count = m.receive_count + 1, receipt_handle = gen_random_uuid(),
             first_received_at = coalesce(m.first_received_at, now()),
             visible_at = now() + make_interval(secs => p.visibility)
         FROM picked p WHERE m.id = p.id AND NOT p.to_dlq
         RETURNING m.*, false AS moved
       )
       SELECT id, message_id, receipt_handle, body, receive_count, sent_at, first_received_at, moved_from,
              visible_at, moved, queue AS dlq, max_receive_count, trace_header FROM moved
       UNION ALL
       SELECT id, message_id, receipt_handle, body, receive_count, sent_at, first_received_at, moved_from,
              visible_at, moved, NULL, NULL, trace_header FROM received`,
      [this.name, max, visibility],
    )
    const movedRows = rows.filter((r) => r.moved)
    const causes =
      movedRows.length > 0 && this.onDeadLetter
        ? await this.onDeadLetter(
            db,
            movedRows.map((r) => ({
              messageId: r.message_id,
              body: r.body,
              receiveCount: r.receive_count,
              maxReceiveCount: r.max_receive_count ?? 0,
              sourceQueue: this.name,
              deadLetterQueue: r.dlq!,
            })),
          )
        : undefined
    // WARN, not INFO: a dead letter is a task that will not be dialed until an operator acts.
    for (const row of movedRows)
      logger.warn(
        `Task moved to the dead-letter queue after ${row.receive_count} receives; inspect with: dialctl dlq list`,
        {
          queue: this.name,
          deadLetterQueue: row.dlq,
          messageId: row.message_id,
          receiveCount: row.receive_count,
          reason: `received ${row.receive_count} times (maxReceiveCount ${row.max_receive_count ?? 0})`,
          ...(causes?.get(row.message_id) ? { lastFailure: causes.get(row.message_id) } : {}),
          next: 'dialctl dlq list',
        },
      )
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
              visible_at, false AS moved, NULL AS dlq, trace_header
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
