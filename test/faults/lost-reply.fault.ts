import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DialCommand } from '../../src/contracts/index.js'
import { demoCampaign, seedDemoCampaign } from '../../src/local-stack/demo.js'
import { createLogger } from '../../src/observability/logger.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { SimDriver } from '../../worker/drivers/sim.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { recordResult } from './helpers/results.js'

/**
 * Found by the PostgreSQL-cut scenario (about one run in six): the worker's INSERT of the call row
 * commits, then the connection dies before the reply. The worker answered 503 and placed no call,
 * yet the row said 'dialing'; the redelivered task was then taken for a duplicate — the contact
 * attempt was never called and stayed 'dialing' until the worker restarted. Now the worker
 * remembers the starts that failed and adopts such a row on redelivery, exactly once.
 * Here the lost reply is injected deterministically: the pool's first call-row INSERT succeeds in
 * PostgreSQL and then throws, as a reset connection does.
 */
describe('fault: the reply to the call-row INSERT is lost', () => {
  let t: TestDb
  let worker: Worker
  let url: string
  let failNext = 0
  const token = randomBytes(24).toString('base64url')

  beforeAll(async () => {
    t = await createTestDb('fault_lostreply')
    await seedDemoCampaign(t.pool)
    // The claim (the dial gate) is one transaction on a checked-out client: its COMMIT reaches
    // PostgreSQL, then the client sees the connection drop — the row is committed, the reply lost.
    const flaky = new Proxy(t.pool, {
      get(target, prop, receiver) {
        if (prop === 'connect')
          return async () => {
            const client = await target.connect()
            const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>
            let claimed = false
            Object.assign(client, {
              query: async (...args: unknown[]) => {
                const result = await query(...args)
                // the claim's call row is inserted by gate_claim (migration 0015), which says so
                if (
                  typeof args[0] === 'string' &&
                  args[0].includes('gate_claim(') &&
                  (result as { rows?: Array<{ claimed?: boolean }> }).rows?.[0]?.claimed === true
                )
                  claimed = true
                if (args[0] === 'COMMIT' && claimed && failNext > 0) {
                  claimed = false
                  failNext--
                  throw new Error('read ECONNRESET')
                }
                if (args[0] === 'COMMIT' || args[0] === 'ROLLBACK') claimed = false
                return result
              },
            })
            return client
          }
        const value = Reflect.get(target, prop, receiver) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
    worker = createWorker({
      db: flaky,
      driver: new SimDriver({ speed: 0, answerRate: 1, busyRate: 0, seed: 1 }),
      token,
      workerId: 'w-lost-reply',
      caps: { maxActiveCalls: 10 },
      logger: createLogger('worker', { level: 'SILENT' }),
    })
    url = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}/dial`
  })

  afterAll(async () => {
    await worker?.close()
    await t?.drop()
  })

  const command = (contactId: string, i: number): DialCommand => ({
    callId: `call-demo-${contactId}-0`,
    phoneNumber: testNumber(600 + i),
    campaignId: 'demo',
    contactId,
    audioFileUrl: demoCampaign.config.audioFileUrl,
    ivrFlow: demoCampaign.config.ivrFlow as DialCommand['ivrFlow'],
    metadata: {},
    attempt: 0,
  })
  const post = async (cmd: DialCommand) =>
    (
      await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(cmd),
      })
    ).status
  const callRows = async (contactId: string) =>
    (
      await t.pool.query<{ status: string }>('SELECT status FROM call_attempts WHERE contact_id = $1', [
        contactId,
      ])
    ).rows

  it('adopts the orphan row on redelivery and places the call once (sequential and concurrent)', async () => {
    const started = Date.now()
    const stats: number[] = []
    for (const [i, contactId] of ['lost-seq', 'lost-par'].entries()) {
      await t.pool.query(
        `INSERT INTO contacts (campaign_id, id, phone_number, status) VALUES ('demo', $1, $2, 'queued')`,
        [contactId, testNumber(600 + i)],
      )
      const cmd = command(contactId, i)
      failNext = 1
      // the row is in PostgreSQL, the worker saw an error: 503, no call
      expect(await post(cmd)).toBe(503)
      expect(await callRows(contactId)).toEqual([{ status: 'dialing' }])
      expect(worker.activeCalls).toBe(0)
      // redelivery: the first one adopts the row; any other copy is a duplicate
      const statuses =
        contactId === 'lost-seq'
          ? [await post(cmd), await post(cmd)]
          : await Promise.all([post(cmd), post(cmd)])
      expect(statuses.sort()).toEqual([200, 202])
      await worker.idle()
      const rows = await callRows(contactId)
      expect(rows).toHaveLength(1)
      expect(rows[0]!.status).toBe('answered')
      const { rows: contact } = await t.pool.query<{ status: string }>(
        'SELECT status FROM contacts WHERE id = $1',
        [contactId],
      )
      expect(contact[0]!.status).toBe('done')
      // and later redeliveries stay duplicates
      expect(await post(cmd)).toBe(200)
      stats.push(...statuses)
    }
    expect(worker.metrics().attempted).toBe(2)
    recordResult({
      scenario: 'lost reply to the call-row INSERT',
      tasks: 2,
      outcomes: { dialed: 2 },
      lost: 0,
      duplicated: 0,
      seconds: (Date.now() - started) / 1000,
      note: 'INSERT committed, reply lost → 503; redelivery adopts the row (202) once, copies get 200 duplicate',
    })
  })
})
