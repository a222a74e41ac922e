import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { QueueError } from '../../src/queue/limits.js'
import {
  PgQueue,
  cancelLocalRedrive,
  createLocalQueue,
  ensureLocalQueues,
  listLocalRedrives,
} from '../../src/queue/pg-queue.js'
import { SQS_MAX_MESSAGE_BYTES } from '../../src/queue/port.js'
import { Writable } from 'node:stream'
import { recordDeadLetteredTasks } from '../../src/outcomes/dead-letter.js'
import { recordTaskOutcomes } from '../../src/outcomes/task-outcomes.js'
import { setLogDestination } from '../../src/observability/logger.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

let db: TestDb
let n = 0
/** a fresh queue pair per test, so tests do not see each other's messages */
async function pair(options: { visibilityTimeoutSeconds?: number } = {}) {
  n += 1
  return ensureLocalQueues(db.pool, {
    queueName: `q${n}`,
    dlqName: `q${n}-dlq`,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
    // the dial-tasks caller's hook: the queue itself no longer knows about task outcomes
    onDeadLetter: recordDeadLetteredTasks,
  })
}
/** visibility timeouts run on PostgreSQL's clock: poll for their end, never sleep past it */
const expiry = { timeout: 10_000, interval: 100 }
const task = (contactId: string) =>
  JSON.stringify({ campaignId: 'camp-1', contactId, phoneNumber: '+972501234567', attempts: 2 })

beforeAll(async () => {
  db = await createTestDb('queue')
})
afterAll(async () => {
  await db.drop()
})

describe('PgQueue send / receive / delete', () => {
  it('receives a sent message with its attributes, and delete removes it', async () => {
    const { queue } = await pair()
    const { messageId } = await queue.send('hello')
    const [m] = await queue.receive({ maxMessages: 10 })
    expect(m).toMatchObject({ messageId, body: 'hello', receiveCount: 1 })
    expect(m!.attributes).toMatchObject({ ApproximateReceiveCount: '1', SenderId: 'local' })
    expect(Number(m!.attributes!.SentTimestamp)).toBe(m!.sentAt.getTime())
    expect(m!.firstReceivedAt).toBeInstanceOf(Date)
    await queue.delete(m!.receiptHandle)
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, oldestAgeSeconds: 0 })
  })

  it('hides a received message for the visibility timeout, then redelivers it with receive count 2 and a new handle', async () => {
    const { queue } = await pair()
    await queue.send('a')
    const [first] = await queue.receive({ visibilityTimeoutSeconds: 1 })
    expect(await queue.receive()).toEqual([])
    expect(await queue.depth()).toMatchObject({ visible: 0, inFlight: 1 })
    const [second] = await vi.waitUntil(async () => {
      const got = await queue.receive({ visibilityTimeoutSeconds: 30 })
      return got.length > 0 && got
    }, expiry)
    expect(second!.messageId).toBe(first!.messageId)
    expect(second!.receiveCount).toBe(2)
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle)
    expect(second!.firstReceivedAt!.getTime()).toBe(first!.firstReceivedAt!.getTime())
    // the stale handle deletes nothing (SQS semantics); the current one does
    await queue.delete(first!.receiptHandle)
    expect((await queue.depth()).inFlight).toBe(1)
    await queue.delete(second!.receiptHandle)
    expect((await queue.depth()).inFlight).toBe(0)
  })

  it('uses the queue default visibility timeout when receive gives none', async () => {
    const { queue } = await pair({ visibilityTimeoutSeconds: 1 })
    await queue.send('a')
    await queue.receive()
    expect(await queue.receive()).toEqual([])
    await vi.waitFor(async () => expect(await queue.receive()).toHaveLength(1), expiry)
  })

  it('deleteBatch holding a stale handle, then the current one, of one message deletes it (SQS)', async () => {
    const { queue } = await pair()
    await queue.send('twice')
    const [stale] = await queue.receive({ visibilityTimeoutSeconds: 0 })
    const [current] = await queue.receive({ visibilityTimeoutSeconds: 30 })
    expect(current!.messageId).toBe(stale!.messageId)
    expect(await queue.deleteBatch([stale!.receiptHandle, current!.receiptHandle])).toBe(1)
    expect(await queue.depth()).toMatchObject({ visible: 0, inFlight: 0 })
  })

  it('changeVisibility(0) makes a message visible at once; a stale handle is refused with the reason', async () => {
    const { queue } = await pair()
    await queue.send('a')
    const [m] = await queue.receive()
    await queue.changeVisibility(m!.receiptHandle, 0)
    const [again] = await queue.receive()
    expect(again!.receiveCount).toBe(2)
    await expect(queue.changeVisibility(m!.receiptHandle, 10)).rejects.toMatchObject({
      code: 'ReceiptHandleIsInvalid',
    })
    await expect(queue.delete('not-a-handle')).rejects.toThrow(/not a receipt handle/)
  })

  it('returns at most maxMessages, oldest first, and rejects maxMessages above 10', async () => {
    const { queue } = await pair()
    for (let i = 0; i < 12; i++) await queue.send(`m${i}`)
    const got = await queue.receive({ maxMessages: 10 })
    expect(got.map((m) => m.body)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
    await expect(queue.receive({ maxMessages: 11 })).rejects.toThrow(
      /maxMessages is 11; it must be an integer from 1 to 10/,
    )
  })

  it('long-polls: a receive waiting on an empty queue returns the message sent meanwhile', async () => {
    const { queue } = await pair()
    const looks = vi.spyOn(queue as unknown as { receiveOnce: () => Promise<unknown> }, 'receiveOnce')
    const waiting = queue.receive({ waitTimeSeconds: 5 })
    // it has looked once, found nothing, and now waits
    await vi.waitFor(() => expect(looks.mock.settledResults).toHaveLength(1))
    await queue.send('late')
    const got = await waiting
    expect(got.map((m) => m.body)).toEqual(['late'])
    // and returns empty once the wait is over
    expect(await queue.receive({ waitTimeSeconds: 0.2 })).toEqual([])
  })
})

describe('PgQueue limits', () => {
  it('sendBatch: accepts 10, refuses 11, names the oversized entry and the 256 KiB limit', async () => {
    const { queue } = await pair()
    const ten = Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, body: `b${i}` }))
    const result = await queue.sendBatch(ten)
    expect(result.failed).toEqual([])
    expect(result.successful.map((s) => s.id)).toEqual(ten.map((e) => e.id))
    await expect(queue.sendBatch([...ten, { id: 'e10', body: 'x' }])).rejects.toMatchObject({
      code: 'TooManyEntriesInBatchRequest',
      message: expect.stringMatching(/11 entries; the limit is 10/),
    })
    const big = 'x'.repeat(SQS_MAX_MESSAGE_BYTES + 1)
    await expect(
      queue.sendBatch([
        { id: 'ok', body: 'a' },
        { id: 'huge', body: big },
      ]),
    ).rejects.toThrow(/entry "huge": body is 262145 bytes; the limit is 262144 bytes \(256 KiB\)/)
    await expect(
      queue.sendBatch([
        { id: 'a', body: 'x'.repeat(200_000) },
        { id: 'b', body: 'y'.repeat(100_000) },
      ]),
    ).rejects.toMatchObject({ code: 'BatchRequestTooLong' })
    await expect(
      queue.sendBatch([
        { id: 'a', body: '1' },
        { id: 'a', body: '2' },
      ]),
    ).rejects.toMatchObject({ code: 'BatchEntryIdsNotDistinct' })
    await expect(queue.send('')).rejects.toBeInstanceOf(QueueError)
    // exactly 256 KiB is allowed
    await queue.send('z'.repeat(SQS_MAX_MESSAGE_BYTES))
    expect((await queue.depth()).visible).toBe(11)
  })

  it('names a missing queue and what to do', async () => {
    const ghost = new PgQueue(db.pool, 'ghost')
    await expect(ghost.send('x')).rejects.toThrow(/queue "ghost" does not exist.*ensureLocalQueues/)
    await expect(ghost.receive()).rejects.toMatchObject({ code: 'QueueDoesNotExist' })
  })
})

describe('PgQueue depth, peek, purge', () => {
  it('depth counts visible and in-flight and the oldest age', async () => {
    const { queue } = await pair()
    await queue.send('a')
    await queue.send('b')
    await queue.send('c')
    await queue.receive({ maxMessages: 1 })
    await db.pool.query(
      `UPDATE queue_messages SET sent_at = now() - interval '90 seconds' WHERE queue = $1`,
      [queue.name],
    )
    expect(await queue.depth()).toEqual({ visible: 2, inFlight: 1, oldestAgeSeconds: 90 })
  })

  it('peek does not change receive counts, handles or order, and shows in-flight messages', async () => {
    const { queue } = await pair()
    for (const b of ['a', 'b', 'c']) await queue.send(b)
    const [held] = await queue.receive({ maxMessages: 1 })
    const before = await queue.peek(10)
    const again = await queue.peek(10)
    expect(again).toEqual(before)
    expect(before.map((m) => [m.body, m.receiveCount])).toEqual([
      ['a', 1],
      ['b', 0],
      ['c', 0],
    ])
    expect(before.every((m) => m.receiptHandle === '')).toBe(true)
    // the held message's handle is still the current one
    await queue.delete(held!.receiptHandle)
    const next = await queue.receive({ maxMessages: 10 })
    expect(next.map((m) => [m.body, m.receiveCount])).toEqual([
      ['b', 1],
      ['c', 1],
    ])
  })

  it('purge removes every message, in flight too', async () => {
    const { queue } = await pair()
    for (const b of ['a', 'b', 'c']) await queue.send(b)
    await queue.receive()
    expect(await queue.purge()).toBe(3)
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, oldestAgeSeconds: 0 })
  })
})

describe('PgQueue deferral (what SqsQueue.defer does on SQS)', () => {
  it('send with delaySeconds stays invisible for that long', async () => {
    const { queue } = await pair()
    await queue.send('later', { delaySeconds: 1 })
    expect(await queue.receive()).toEqual([])
    expect(await queue.depth()).toMatchObject({ visible: 0, inFlight: 1 })
    const [m] = await queue.receive({ waitTimeSeconds: 2 })
    expect(m).toMatchObject({ body: 'later', receiveCount: 1 })
    await expect(queue.send('x', { delaySeconds: 901 })).rejects.toThrow(/delaySeconds is 901/)
  })

  it('defer: a new copy (receive count 0, new id) visible after its delay, the received copy deleted', async () => {
    const { queue } = await pair()
    const { messageId } = await queue.send(task('defer-1'))
    const [first] = await queue.receive({ visibilityTimeoutSeconds: 0 })
    const [second] = await queue.receive({ visibilityTimeoutSeconds: 30 })
    expect(second!.receiveCount).toBe(2)
    const result = await queue.defer([
      { receiptHandle: second!.receiptHandle, body: second!.body, delaySeconds: 2 },
    ])
    expect(result.failed).toEqual([])
    const [copy] = await queue.peek(10)
    expect(await queue.peek(10)).toHaveLength(1)
    expect(copy).toMatchObject({
      messageId: result.deferred[0]!.messageId,
      body: task('defer-1'),
      receiveCount: 0,
    })
    expect(copy!.messageId).not.toBe(messageId)
    expect(Number(copy!.attributes!.VisibleAt) - copy!.sentAt.getTime()).toBe(2000)
    // the stale handle of the first receive no longer names anything
    await expect(queue.changeVisibility(first!.receiptHandle, 0)).rejects.toThrow(/not current/)
  })

  it('deferring again and again never dead-letters; three real failures still do', async () => {
    const { queue, dlq } = await pair()
    await queue.send(task('deferred-forever'))
    await queue.send(task('really-failing'))
    for (let round = 0; round < 6; round++) {
      const got = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 0 })
      const deferred = got.filter((m) => m.body.includes('deferred-forever'))
      if (deferred.length)
        await queue.defer(
          deferred.map((m) => ({ receiptHandle: m.receiptHandle, body: m.body, delaySeconds: 0 })),
        )
    }
    const dead = await dlq.peek(10)
    expect(dead.map((m) => m.body)).toEqual([task('really-failing')])
    expect((await queue.peek(10)).map((m) => m.body)).toEqual([task('deferred-forever')])
  })
})

describe('redrive policy and DLQ', () => {
  it('moves a message to the DLQ on the 4th receive, keeping body, sent time and receive count, and records a dlq outcome', async () => {
    const { queue, dlq } = await pair()
    const { messageId } = await queue.send(task('contact-7'))
    const sentAt = (await queue.peek(1))[0]!.sentAt
    for (let i = 1; i <= 3; i++) {
      const [m] = await queue.receive({ visibilityTimeoutSeconds: 0 })
      expect(m!.receiveCount).toBe(i)
    }
    expect(await queue.receive({ visibilityTimeoutSeconds: 0 })).toEqual([])
    expect(await queue.depth()).toMatchObject({ visible: 0, inFlight: 0 })
    const [dead] = await dlq.peek(10)
    expect(dead).toMatchObject({ messageId, body: task('contact-7'), receiveCount: 3, sentAt })
    expect(dead!.attributes!.DeadLetterQueueSourceArn).toBe(queue.name)
    const { rows } = await db.pool.query(
      'SELECT message_id, campaign_id, contact_id, attempt, stage, outcome, reason FROM task_outcomes WHERE message_id = $1',
      [messageId],
    )
    expect(rows).toEqual([
      {
        message_id: messageId,
        campaign_id: 'camp-1',
        contact_id: 'contact-7',
        attempt: 2,
        stage: 'queue',
        outcome: 'dlq',
        reason: `received 3 times (maxReceiveCount 3): moved from ${queue.name} to ${dlq.name}`,
      },
    ])
  })

  it('logs each move at WARN with the reason, the last recorded failure and the command to inspect', async () => {
    const { queue } = await pair()
    const { messageId } = await queue.send(task('contact-8'))
    await recordTaskOutcomes(db.pool, [
      { messageId, stage: 'dialer', outcome: 'failed', reason: 'worker 500: boom' },
    ])
    const lines: string[] = []
    setLogDestination(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(String(chunk))
          done()
        },
      }),
    )
    try {
      for (let i = 0; i < 4; i++) await queue.receive({ visibilityTimeoutSeconds: 0 })
    } finally {
      setLogDestination(undefined)
    }
    const moves = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('dead-letter queue'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(moves).toHaveLength(1)
    expect(moves[0]).toMatchObject({
      level: 'WARN',
      messageId,
      receiveCount: 3,
      reason: 'received 3 times (maxReceiveCount 3)',
      lastFailure: 'failed: worker 500: boom',
      next: 'dialctl dlq list',
    })
    expect(String(moves[0]!.message)).toContain('dialctl dlq list')
    const { rows } = await db.pool.query<{ reason: string }>(
      "SELECT reason FROM task_outcomes WHERE message_id = $1 AND outcome = 'dlq'",
      [messageId],
    )
    expect(rows[0]!.reason).toMatch(/; last failure failed: worker 500: boom$/)
  })

  it('records a dlq outcome without campaign/contact when the body is not a task', async () => {
    const { queue } = await pair()
    const { messageId } = await queue.send('not json {')
    for (let i = 0; i < 4; i++) await queue.receive({ visibilityTimeoutSeconds: 0 })
    const { rows } = await db.pool.query(
      'SELECT campaign_id, contact_id, outcome FROM task_outcomes WHERE message_id = $1',
      [messageId],
    )
    expect(rows).toEqual([{ campaign_id: null, contact_id: null, outcome: 'dlq' }])
  })

  it('a receive that moves messages to the DLQ still returns the visible ones behind them', async () => {
    const { queue, dlq } = await pair()
    await queue.send('poison')
    for (let i = 0; i < 3; i++) await queue.receive({ visibilityTimeoutSeconds: 0 })
    await queue.send('fresh')
    const got = await queue.receive({ maxMessages: 1 })
    expect(got.map((m) => m.body)).toEqual(['fresh'])
    expect((await dlq.depth()).visible).toBe(1)
  })

  it('redrive moves DLQ messages back as new messages (new id, receive count 0) and reports progress', async () => {
    const { queue, dlq } = await pair()
    for (let i = 0; i < 5; i++) await queue.send(`m${i}`)
    for (let i = 0; i < 4; i++) await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 0 })
    const dead = await dlq.peek(10)
    expect(dead).toHaveLength(5)
    const progress: number[] = []
    const result = await dlq.redrive({ maxPerSecond: 100, onProgress: (t) => progress.push(t.moved) })
    expect(result).toMatchObject({ status: 'COMPLETED', moved: 5, toMove: 5, source: dlq.name })
    expect(progress.at(-1)).toBe(5)
    expect(await dlq.depth()).toMatchObject({ visible: 0, inFlight: 0 })
    const back = await queue.receive({ maxMessages: 10 })
    expect(back.map((m) => m.body)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    expect(back.every((m) => m.receiveCount === 1)).toBe(true)
    expect(back.map((m) => m.messageId).some((id) => dead.some((d) => d.messageId === id))).toBe(false)
    const [listed] = await listLocalRedrives(db.pool, dlq.name)
    expect(listed).toMatchObject({ taskHandle: result.taskHandle, status: 'COMPLETED', moved: 5 })
  })

  it('redrive honours maxPerSecond and refuses a second concurrent redrive of the same DLQ', async () => {
    const { queue, dlq } = await pair()
    for (let i = 0; i < 3; i++) await queue.send(`m${i}`)
    for (let i = 0; i < 4; i++) await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 0 })
    const first = dlq.redrive({ maxPerSecond: 1 })
    await vi.waitFor(async () => expect(await listLocalRedrives(db.pool, dlq.name)).toHaveLength(1))
    await expect(dlq.redrive()).rejects.toMatchObject({ code: 'AlreadyRunning' })
    const [running] = await listLocalRedrives(db.pool, dlq.name)
    expect(running!.status).toBe('RUNNING')
    expect(running!.moved).toBeLessThan(3)
    await cancelLocalRedrive(db.pool, running!.taskHandle)
    const done = await first
    expect(done.status).toBe('CANCELLED')
    expect(done.moved).toBeLessThan(3)
    expect((await dlq.depth()).visible).toBe(3 - done.moved)
  })

  it('refuses to redrive a queue that is no DLQ, and a bad rate', async () => {
    const { queue, dlq } = await pair()
    await expect(queue.redrive()).rejects.toMatchObject({ code: 'UnsupportedOperation' })
    await expect(dlq.redrive({ maxPerSecond: 501 })).rejects.toThrow(/from 1 to 500/)
  })

  it('redrive to an explicit destination', async () => {
    const { queue, dlq } = await pair()
    await createLocalQueue(db.pool, `${queue.name}-other`)
    const other = new PgQueue(db.pool, `${queue.name}-other`)
    await queue.send('x')
    for (let i = 0; i < 4; i++) await queue.receive({ visibilityTimeoutSeconds: 0 })
    const result = await dlq.redrive({ destination: other.name })
    expect(result).toMatchObject({ moved: 1, destination: other.name })
    expect((await other.receive()).map((m) => m.body)).toEqual(['x'])
  })
})

describe('concurrency and restart', () => {
  it('8 concurrent consumers never receive the same visible message twice', async () => {
    const { queue } = await pair()
    const total = 400
    for (let i = 0; i < total; i += 10)
      await queue.sendBatch(Array.from({ length: 10 }, (_, j) => ({ id: `e${j}`, body: `m${i + j}` })))
    const seen: string[] = []
    const consumer = async () => {
      for (;;) {
        const got = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60 })
        if (got.length === 0) return
        seen.push(...got.map((m) => m.messageId))
      }
    }
    await Promise.all(Array.from({ length: 8 }, consumer))
    expect(seen).toHaveLength(total)
    expect(new Set(seen).size).toBe(total)
  })

  it('a new PgQueue on a new pool (a restarted process) sees every message, in-flight ones after their timeout', async () => {
    const { queue } = await pair()
    await queue.send('one')
    await queue.send('two')
    await queue.receive({ maxMessages: 1, visibilityTimeoutSeconds: 1 })
    const { createPool } = await import('../../src/db/pool.js')
    const pool2 = createPool({ schema: db.schema })
    try {
      const restarted = new PgQueue(pool2, queue.name)
      expect(await restarted.depth()).toMatchObject({ visible: 1, inFlight: 1 })
      await vi.waitFor(async () => expect(await restarted.depth()).toMatchObject({ visible: 2 }), expiry)
      const got = await restarted.receive({ maxMessages: 10 })
      expect(got.map((m) => [m.body, m.receiveCount])).toEqual([
        ['one', 2],
        ['two', 1],
      ])
    } finally {
      await pool2.end()
    }
  })
})
