import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPool } from '../../src/db/pool.js'
import { createPgOutcomeRecorder } from '../../src/dialer/ports.js'
import { createOutcomeWriter, type TaskOutcome } from '../../src/outcomes/task-outcomes.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

// Issue #15: with PostgreSQL connections exhausted, 61 dialed tasks had no outcome row. A pool of
// 2 whose connections are held by others stands in for the exhaustion; the checkout bound is short
// so the test sees the "timeout exceeded when trying to connect" the dialer saw.
let db: TestDb
beforeAll(async () => {
  db = await createTestDb('outpool')
})
afterAll(async () => {
  await db.drop()
})

const outcome = (batch: number, i: number): TaskOutcome => ({
  messageId: `m-${batch}-${i}`,
  stage: 'dialer',
  outcome: 'dialed',
  callId: `c-${batch}-${i}`,
})

async function count(prefix: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM task_outcomes WHERE message_id LIKE $1',
    [`${prefix}%`],
  )
  return Number(rows[0]!.n)
}

async function exhausted(): Promise<{ pool: pg.Pool; hogs: pg.PoolClient[] }> {
  const pool = createPool({ schema: db.schema, max: 2, connectTimeoutMs: 150 })
  const hogs = [await pool.connect(), await pool.connect()]
  return { pool, hogs }
}

describe('outcome writes under pool exhaustion', () => {
  it('a pool of 2 held by others: every batch of outcomes is written once the connections free up', async () => {
    const { pool, hogs } = await exhausted()
    const recorder = createPgOutcomeRecorder(pool, [50, 100, 200, 400, 800, 1600])
    const checkouts = vi.spyOn(pool, 'connect')
    try {
      const writes = Array.from({ length: 20 }, (_, b) =>
        recorder.record(Array.from({ length: 5 }, (_, i) => outcome(b, i))),
      )
      // nothing can be written while both connections are held: the writer times out and retries
      await vi.waitFor(() => expect(checkouts.mock.calls.length).toBeGreaterThanOrEqual(3))
      expect(await count('m-')).toBe(0)
      for (const h of hogs) h.release()
      await Promise.all(writes)
      expect(await count('m-')).toBe(100)
      // exactly once each
      const { rows } = await db.pool.query<{ n: string }>(
        "SELECT count(DISTINCT message_id) AS n FROM task_outcomes WHERE message_id LIKE 'm-%'",
      )
      expect(Number(rows[0]!.n)).toBe(100)
    } finally {
      await pool.end()
    }
  })

  it('past its bound the write rejects, keeps the outcomes and writes them with the next batch', async () => {
    const { pool, hogs } = await exhausted()
    const writer = createOutcomeWriter(pool, { retryDelaysMs: [10, 10] })
    try {
      await expect(writer.record([outcome(100, 0), outcome(100, 1)])).rejects.toThrow(/timeout/i)
      expect(writer.pending()).toBe(2)
      for (const h of hogs) h.release()
      await writer.record([outcome(101, 0)])
      expect(writer.pending()).toBe(0)
      expect(await count('m-100-')).toBe(2)
      expect(await count('m-101-')).toBe(1)
    } finally {
      await pool.end()
    }
  })
})
