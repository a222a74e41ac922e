/**
 * Local queue rate against its anchor, interleaved in the same run: messages/s through send
 * (batches of 10) + receive (10 at a time) + delete, on the real PostgreSQL, with 1 and 4
 * consumers — for PgQueue (SQS semantics: visibility timeout, receive count, receipt handles,
 * redrive to the DLQ, outcome rows for moved messages) and for a plain SKIP LOCKED queue written
 * here (a table, one index, visibility only: the least a PostgreSQL queue can do per message).
 * Goal: the local queue ≥ 0.8 of the plain one. Median of runs, with min and max.
 */
import type pg from 'pg'
import { ensureLocalQueues, type PgQueue } from '../../src/queue/pg-queue.js'
import { createTestDb } from '../helpers/db.js'
import { fmt, QUICK, stats, type BenchSection, type Stats } from './types.js'

const MESSAGES = QUICK ? 1000 : 2000
const RUNS = QUICK ? 3 : 5
const body = JSON.stringify({
  campaignId: 'bench',
  contactId: 'c-000000',
  phoneNumber: '+972501234567',
  attempts: 0,
})

/** What both queues do, so one driver measures both. */
interface BenchQueue {
  sendBatch(bodies: string[]): Promise<void>
  /** up to 10 visible messages, hidden for 60 s; returns what delete needs */
  receive(): Promise<string[]>
  deleteBatch(handles: string[]): Promise<void>
}

function local(queue: PgQueue): BenchQueue {
  return {
    async sendBatch(bodies) {
      await queue.sendBatch(bodies.map((b, j) => ({ id: `e${j}`, body: b })))
    },
    async receive() {
      const got = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60 })
      return got.map((m) => m.receiptHandle)
    },
    async deleteBatch(handles) {
      await queue.deleteBatch(handles)
    },
  }
}

/** The anchor: the textbook SKIP LOCKED queue, one statement per operation. */
async function plain(pool: pg.Pool): Promise<BenchQueue> {
  await pool.query(`CREATE TABLE plain_queue (
    id bigserial PRIMARY KEY, body text NOT NULL, visible_at timestamptz NOT NULL DEFAULT now())`)
  await pool.query('CREATE INDEX plain_queue_ready_idx ON plain_queue (visible_at, id)')
  return {
    async sendBatch(bodies) {
      await pool.query({
        text: 'INSERT INTO plain_queue (body) SELECT unnest($1::text[])',
        values: [bodies],
      })
    },
    async receive() {
      const { rows } = await pool.query<{ id: string }>({
        text: `UPDATE plain_queue SET visible_at = now() + interval '60 seconds'
                WHERE id IN (SELECT id FROM plain_queue WHERE visible_at <= now()
                              ORDER BY visible_at, id LIMIT 10 FOR UPDATE SKIP LOCKED)
                RETURNING id, body`,
      })
      return rows.map((r) => r.id)
    },
    async deleteBatch(ids) {
      await pool.query({
        text: 'DELETE FROM plain_queue WHERE id = ANY($1::bigint[])',
        values: [ids],
      })
    },
  }
}

async function sendAll(queue: BenchQueue): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < MESSAGES; i += 10) await queue.sendBatch(Array.from({ length: 10 }, () => body))
  return MESSAGES / ((performance.now() - started) / 1000)
}

async function drain(queue: BenchQueue, consumers: number): Promise<number> {
  const started = performance.now()
  let left = MESSAGES
  await Promise.all(
    Array.from({ length: consumers }, async () => {
      while (left > 0) {
        const got = await queue.receive()
        if (got.length === 0) continue
        await queue.deleteBatch(got)
        left -= got.length
      }
    }),
  )
  return MESSAGES / ((performance.now() - started) / 1000)
}

interface Figures {
  send: number[]
  one: number[]
  four: number[]
  roundTrip: number[]
}

async function measure(queue: BenchQueue, f: Figures): Promise<void> {
  f.send.push(await sendAll(queue))
  f.one.push(await drain(queue, 1))
  // each message sent, received and deleted once, one after the other
  f.roundTrip.push(1 / (1 / f.send.at(-1)! + 1 / f.one.at(-1)!))
  await sendAll(queue)
  f.four.push(await drain(queue, 4))
}

const empty = (): Figures => ({ send: [], one: [], four: [], roundTrip: [] })
const ratio = (a: Stats, b: Stats) => a.median / b.median

export async function run(): Promise<BenchSection> {
  const db = await createTestDb('bench_queue')
  try {
    const { queue } = await ensureLocalQueues(db.pool, { queueName: 'bench', dlqName: 'bench-dlq' })
    const ours = local(queue)
    const anchor = await plain(db.pool)
    // warm-up: plans cached, connections open
    for (const q of [ours, anchor]) {
      await sendAll(q)
      await drain(q, 4)
    }
    const a = empty()
    const b = empty()
    // interleaved: each run measures both, alternating which goes first
    for (let r = 0; r < RUNS; r++) {
      if (r % 2 === 0) {
        await measure(ours, a)
        await measure(anchor, b)
      } else {
        await measure(anchor, b)
        await measure(ours, a)
      }
    }
    const s = (f: Figures) => ({
      sendReceiveDelete: stats(f.roundTrip),
      send: stats(f.send),
      receiveDelete1: stats(f.one),
      receiveDelete4: stats(f.four),
    })
    const o = s(a)
    const p = s(b)
    const row = (what: string, k: keyof typeof o) =>
      `| ${what} | ${fmt(o[k])} | ${fmt(p[k])} | ${ratio(o[k], p[k]).toFixed(2)} |`
    const goal = ratio(o.sendReceiveDelete, p.sendReceiveDelete)
    const markdown = [
      `${MESSAGES} messages per run, ${RUNS} interleaved runs, messages/s — median (min, max). Anchor: a plain ` +
        'SKIP LOCKED queue (one table, one index, visibility only) on the same pool.',
      '',
      '| operation | local queue (PgQueue) | plain SKIP LOCKED queue | ratio |',
      '|---|---|---|---|',
      row('send + receive + delete (sequential, 1 process)', 'sendReceiveDelete'),
      row('sendBatch (10 per call), 1 producer', 'send'),
      row('receive 10 + deleteBatch, 1 consumer', 'receiveDelete1'),
      row('receive 10 + deleteBatch, 4 consumers', 'receiveDelete4'),
      '',
      `Goal: local queue ≥ 0.8 of the plain queue (send + receive + delete): ${goal.toFixed(2)}, ${goal >= 0.8 ? 'met' : 'NOT met'}.`,
    ].join('\n')
    return {
      title: 'Local queue throughput',
      markdown,
      json: { messagesPerRun: MESSAGES, local: o, plain: p, ratio: goal },
      summary: [
        `Local queue send + receive + delete ${fmt(o.sendReceiveDelete)} messages/s vs a plain SKIP LOCKED queue ` +
          `${fmt(p.sendReceiveDelete)} (${goal.toFixed(2)}, goal ≥ 0.8); 4 consumers ${fmt(o.receiveDelete4)} vs ` +
          `${fmt(p.receiveDelete4)}.`,
      ],
    }
  } finally {
    await db.drop()
  }
}
