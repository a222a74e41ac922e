/**
 * Raw local-queue rate: messages/s through send (batches of 10) + receive (10 at a time) + delete,
 * on the real PostgreSQL, with 1 and 4 consumers. Median of runs, with min and max.
 */
import { ensureLocalQueues, type PgQueue } from '../../src/queue/pg-queue.js'
import { createTestDb } from '../helpers/db.js'
import { fmt, stats, type BenchSection } from './types.js'

const MESSAGES = 2000
const RUNS = 5
const body = JSON.stringify({
  campaignId: 'bench',
  contactId: 'c-000000',
  phoneNumber: '+972501234567',
  attempts: 0,
})

async function sendAll(queue: PgQueue): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < MESSAGES; i += 10)
    await queue.sendBatch(Array.from({ length: 10 }, (_, j) => ({ id: `e${j}`, body })))
  return MESSAGES / ((performance.now() - started) / 1000)
}

async function drain(queue: PgQueue, consumers: number): Promise<number> {
  const started = performance.now()
  let left = MESSAGES
  await Promise.all(
    Array.from({ length: consumers }, async () => {
      while (left > 0) {
        const got = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60 })
        if (got.length === 0) continue
        await queue.deleteBatch(got.map((m) => m.receiptHandle))
        left -= got.length
      }
    }),
  )
  return MESSAGES / ((performance.now() - started) / 1000)
}

export async function run(): Promise<BenchSection> {
  const db = await createTestDb('bench_queue')
  try {
    const { queue } = await ensureLocalQueues(db.pool, { queueName: 'bench', dlqName: 'bench-dlq' })
    // warm-up: plans cached, connections open
    await sendAll(queue)
    await drain(queue, 4)
    const send: number[] = []
    const one: number[] = []
    const four: number[] = []
    const roundTrip: number[] = []
    for (let r = 0; r < RUNS; r++) {
      send.push(await sendAll(queue))
      one.push(await drain(queue, 1))
      // each message sent, received and deleted once, one after the other
      roundTrip.push(1 / (1 / send.at(-1)! + 1 / one.at(-1)!))
      await sendAll(queue)
      four.push(await drain(queue, 4))
    }
    const s = {
      sendReceiveDelete: stats(roundTrip),
      send: stats(send),
      receiveDelete1: stats(one),
      receiveDelete4: stats(four),
    }
    const markdown = [
      `Local queue (PostgreSQL), ${MESSAGES} messages per run, ${RUNS} runs, messages/s — median (min, max):`,
      '',
      '| operation | messages/s |',
      '|---|---|',
      `| send + receive + delete (sequential, 1 process) | ${fmt(s.sendReceiveDelete)} |`,
      `| sendBatch (10 per call), 1 producer | ${fmt(s.send)} |`,
      `| receive 10 + deleteBatch, 1 consumer | ${fmt(s.receiveDelete1)} |`,
      `| receive 10 + deleteBatch, 4 consumers | ${fmt(s.receiveDelete4)} |`,
    ].join('\n')
    return { title: 'Local queue throughput', markdown, json: { messagesPerRun: MESSAGES, ...s } }
  } finally {
    await db.drop()
  }
}
