import { describe, expect, it } from 'vitest'
import type { Db } from '../../src/db/pool.js'
import { PipeCounterBuffer } from '../../src/pipe/counter-buffer.js'

/** A Db that records each pipe_metrics upsert's values, failing the first `failures` calls. */
function fakeDb(failures = 0) {
  const writes: unknown[][] = []
  let calls = 0
  const db = {
    query: async (_sql: string, values: unknown[]) => {
      calls++
      if (calls <= failures) throw new Error('connection refused')
      writes.push(values)
      return { rows: [] }
    },
  } as unknown as Db
  return { db, writes }
}

describe('PipeCounterBuffer', () => {
  it('coalesces many batches into one upsert with the summed counters', async () => {
    const { db, writes } = fakeDb()
    const buffer = new PipeCounterBuffer(db, 'p', 60_000, () => {})
    buffer.add({ executions: 1, messagesReceived: 10, messagesSucceeded: 9, messagesFailed: 1 })
    buffer.add({ executions: 1, messagesReceived: 3, messagesFiltered: 3 })
    buffer.add({ messagesReceived: 2, messagesDropped: 2 })
    // the dialer's own counts (src/pipe/target-metrics.ts), between batches
    buffer.add({ tasksDialed: 7, workerDeferrals: 2 })
    buffer.add({ workerDeferrals: 1 })
    await buffer.flush()
    // name, executions, failed executions, received, filtered, dropped, succeeded, failed, dialed, worker deferrals
    expect(writes).toEqual([['p', 2, 0, 15, 3, 2, 9, 1, 7, 3]])
    await buffer.flush()
    expect(writes).toHaveLength(1)
  })

  it('writes on its own within the interval', async () => {
    const { db, writes } = fakeDb()
    const buffer = new PipeCounterBuffer(db, 'p', 5, () => {})
    buffer.add({ executions: 1 })
    await expect.poll(() => writes.length).toBe(1)
  })

  it('keeps the counts of a failed write and writes them at the next flush', async () => {
    const { db, writes } = fakeDb(1)
    const errors: unknown[] = []
    const buffer = new PipeCounterBuffer(db, 'p', 60_000, (e) => errors.push(e))
    buffer.add({ executions: 1, messagesSucceeded: 4 })
    await buffer.flush()
    expect(writes).toEqual([])
    expect(errors).toHaveLength(1)
    buffer.add({ executions: 1, messagesSucceeded: 1 })
    await buffer.flush()
    expect(writes).toEqual([['p', 2, 0, 0, 0, 0, 5, 0, 0, 0]])
  })
})
