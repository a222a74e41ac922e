import type pg from 'pg'
import { withTransaction, type Db } from '../../db/pool.js'
import { QueueError } from '../limits.js'
import type { QueueMessage } from '../port.js'

/**
 * The local queue's receive and its moves to the DLQ, and the receipt handles they issue.
 *
 * A receipt handle is `<row id>.<uuid>`: the row id finds the message through the primary key,
 * the uuid (new on every receive) proves the holder got it from the latest receive. A stale
 * handle — the message was received again, deleted or moved — matches no row, as on SQS.
 */

const HANDLE = /^(\d{1,19})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i

export interface ParsedHandles {
  ids: string[]
  uuids: string[]
}

/** Row ids and uuids of `handles`; throws ReceiptHandleIsInvalid naming `op` for one not made here. */
export function parseHandles(handles: readonly string[], queue: string, op: string): ParsedHandles {
  const ids: string[] = []
  const uuids: string[] = []
  for (const handle of handles) {
    const match = typeof handle === 'string' ? HANDLE.exec(handle) : null
    if (!match)
      throw new QueueError(
        'ReceiptHandleIsInvalid',
        `${op} on "${queue}": "${String(handle).slice(0, 40)}" is not a receipt handle from this queue's receive()`,
      )
    ids.push(match[1]!)
    uuids.push(match[2]!)
  }
  return { ids, uuids }
}

interface ReceivedRow {
  id: string
  message_id: string | null
  receipt_handle: string | null
  body: string | null
  receive_count: number | null
  sent_ms: number | null
  first_ms: number | null
  moved_from: string | null
  due: boolean
  trace_header: string | null
}

/**
 * One statement (the migration's queue_receive, whose plans PostgreSQL keeps per session: see
 * 0014_queue_functions.sql): lock up to $2 visible messages of $1 (skipping rows other consumers
 * hold) and receive them — receive count + 1, a new handle, hidden for $3 s (the queue's own
 * visibility timeout when null) — except those already received maxReceiveCount times: they are
 * only reported (`due`), for moveToDeadLetter. Times come back as epoch ms (no timestamp parsing).
 */
const RECEIVE = 'SELECT * FROM queue_receive($1, $2, $3)'

function toMessage(row: ReceivedRow): QueueMessage {
  const sentAt = new Date(row.sent_ms!)
  const firstReceivedAt = row.first_ms === null ? undefined : new Date(row.first_ms)
  const attributes: Record<string, string> = {
    ApproximateReceiveCount: String(row.receive_count),
    SentTimestamp: String(sentAt.getTime()),
    SenderId: 'local',
  }
  if (firstReceivedAt) attributes.ApproximateFirstReceiveTimestamp = String(firstReceivedAt.getTime())
  if (row.moved_from) attributes.DeadLetterQueueSourceArn = row.moved_from
  if (row.trace_header) attributes.AWSTraceHeader = row.trace_header
  return {
    messageId: row.message_id!,
    receiptHandle: `${row.id}.${row.receipt_handle}`,
    body: row.body!,
    receiveCount: row.receive_count!,
    sentAt,
    ...(firstReceivedAt ? { firstReceivedAt } : {}),
    attributes,
  }
}

/**
 * Receives up to `max` visible messages of `queue` in one statement, oldest first; `due` lists the
 * row ids it found at maxReceiveCount instead (not received, still visible: moveToDeadLetter's).
 */
export async function receiveVisible(
  db: Db,
  queue: string,
  max: number,
  visibility: number | null,
): Promise<{ received: QueueMessage[]; due: string[] }> {
  const { rows } = await db.query<ReceivedRow>(RECEIVE, [queue, max, visibility])
  const received: QueueMessage[] = []
  const due: string[] = []
  rows.sort((a, b) => Number(a.id) - Number(b.id))
  for (const row of rows) {
    if (row.due) due.push(row.id)
    else received.push(toMessage(row))
  }
  return { received, due }
}

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

/**
 * Moves the rows `ids` of `queue` that are still visible and at maxReceiveCount to its DLQ (SQS:
 * the receive after maxReceiveCount moves the message instead of delivering it). Rows another
 * consumer holds are skipped (it is moving them). With a hook, the move and the hook share one
 * transaction. Returns what moved, and the causes the hook returned.
 */
export async function moveToDeadLetter(
  pool: pg.Pool,
  queue: string,
  ids: string[],
  hook: DeadLetterHook | undefined,
): Promise<{ moved: DeadLetteredMessage[]; causes?: DeadLetterCauses }> {
  const move = async (db: Db) => {
    const { rows } = await db.query<{
      message_id: string
      body: string
      receive_count: number
      dlq: string
      mrc: number
    }>(
      `WITH q AS (SELECT dead_letter_queue AS dlq, max_receive_count AS mrc FROM queues WHERE name = $1),
       due AS (
         SELECT m.id FROM queue_messages m, q
          WHERE m.id = ANY($2::bigint[]) AND m.queue = $1 AND m.visible_at <= now()
            AND q.dlq IS NOT NULL AND m.receive_count >= q.mrc
          FOR UPDATE OF m SKIP LOCKED
       )
       UPDATE queue_messages m
          SET queue = q.dlq, moved_from = m.queue, moved_at = now(), visible_at = now(), receipt_handle = NULL
         FROM due, q WHERE m.id = due.id
       RETURNING m.message_id, m.body, m.receive_count, q.dlq, q.mrc`,
      [queue, ids],
    )
    const moved = rows.map((r) => ({
      messageId: r.message_id,
      body: r.body,
      receiveCount: r.receive_count,
      maxReceiveCount: r.mrc,
      sourceQueue: queue,
      deadLetterQueue: r.dlq,
    }))
    const causes = moved.length > 0 && hook ? await hook(db, moved) : undefined
    return { moved, ...(causes ? { causes } : {}) }
  }
  return hook ? withTransaction(pool, move) : move(pool)
}
