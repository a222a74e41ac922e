import type { Logger } from '@aws-lambda-powertools/logger'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { beginCall } from '../../src/calls/recorder.js'
import { runCall } from '../../src/calls/run-call.js'
import { createPool } from '../../src/db/pool.js'
import type { TelephonyDriver } from '../../src/telephony/driver.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { contactRow, dialCommand, insertCampaign, insertContact } from './worker-fixtures.js'

// Issue #15: with PostgreSQL connections exhausted, 4 finished calls stayed `dialing`. The worker's
// pool of 2 is held by others when the call ends: the outcome write fails its checkout bound, is
// retried, and lands once a connection frees up — the row and the contact move on.
let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('call_pool')
  await insertCampaign(tdb.pool, 'camp-1', { maxAttemptsPerContact: 3 })
})
afterAll(async () => {
  await tdb.drop()
})

/** A callee who is busy: the call ends at once, without media. */
const busyDriver: TelephonyDriver = {
  name: 'busy',
  originate: async () => ({ result: { outcome: 'busy', hangupCause: 17 } }),
  healthy: () => true,
  close: async () => {},
}

describe('call outcome under pool exhaustion', () => {
  it('a pool of 2 held by others when the call ends: the outcome is written once they free up; no call stays dialing', async () => {
    await insertContact(tdb.pool, 'camp-1', 'p-1', '+972502220001')
    const cmd = dialCommand({ contactId: 'p-1', phoneNumber: '+972502220001', attempt: 0 })
    expect(await beginCall(tdb.pool, cmd, 'w1')).toMatchObject({ duplicate: false })

    const pool = createPool({ schema: tdb.schema, max: 2, connectTimeoutMs: 150 })
    const hogs = [await pool.connect(), await pool.connect()]
    // count the writes that failed their checkout (the pool's own query, observed, not replaced)
    let failedTries = 0
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>
    vi.spyOn(pool, 'query').mockImplementation(((...args: unknown[]) =>
      query(...args).catch((error: unknown) => {
        failedTries++
        throw error
      })) as unknown as typeof pool.query)
    const logger = { info: vi.fn(), error: vi.fn(), warn: vi.fn(), debug: vi.fn() }
    try {
      const call = runCall({ db: pool, driver: busyDriver, logger: logger as unknown as Logger }, cmd, 0, {
        recordRetryDelaysMs: [50, 100, 200, 400, 800, 1600, 3200],
      })
      // the first write timed out waiting for a connection: the pool is exhausted, as in the issue
      await vi.waitFor(() => expect(failedTries).toBeGreaterThan(0), { timeout: 5000, interval: 20 })
      expect((await contactRow(tdb.pool, 'camp-1', 'p-1'))?.status).toBe('dialing')
      for (const hog of hogs) hog.release()
      const summary = await call
      expect(summary).toMatchObject({ status: 'busy', recorded: true })
      expect(logger.error).not.toHaveBeenCalled()
    } finally {
      await pool.end()
    }
    const { rows } = await tdb.pool.query<{ status: string }>(
      'SELECT status FROM call_attempts WHERE call_id = $1',
      [cmd.callId],
    )
    expect(rows).toEqual([{ status: 'busy' }])
    expect((await contactRow(tdb.pool, 'camp-1', 'p-1'))?.status).toBe('pending')
  })
})
