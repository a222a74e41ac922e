import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { randomBytes } from 'node:crypto'
import { startLocalStack, type LocalStack } from '../../local/stack.js'
import { DEMO_CAMPAIGN_ID } from '../../src/local-stack/demo.js'
import { readCpsHistory } from '../../src/pacing/history.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { dropKeys } from '../helpers/redis.js'
import { registerPushedContacts } from '../../src/control/pushed-contacts.js'

/**
 * The seed's pipeline end to end on the local stack (real PostgreSQL and Redis, same handler code
 * as the Lambdas): tasks pushed into the queue flow through filter, enrich, dialer (limit 25 CPS)
 * and the worker's simulated callee; every task must end in exactly one recorded outcome.
 */
const TASKS = 500
const LIMIT = 25

describe('local stack end to end', () => {
  const schema = `e2e_${randomBytes(4).toString('hex')}`
  const prefix = `test:e2e:${randomBytes(4).toString('hex')}:`
  let stack: LocalStack

  beforeAll(async () => {
    stack = await startLocalStack({
      schema,
      redisPrefix: prefix,
      workerPort: 0,
      maxCps: LIMIT,
      batchWindowSeconds: 1,
      dispatcher: false,
      announce: false,
      visibilityTimeoutSeconds: 30,
      sim: { speed: 0, answerRate: 0.7, seed: 42 },
    })
  })

  afterAll(async () => {
    await stack?.stop()
    const admin = createPool({ max: 1 })
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
    await admin.end()
    await dropKeys(prefix)
  })

  it(`dials ${TASKS} tasks at ${LIMIT} CPS: each ends in one outcome, no second over the limit`, async () => {
    const started = Date.now()
    const tasks = Array.from({ length: TASKS }, (_, i) =>
      buildDialTask({ campaignId: DEMO_CAMPAIGN_ID, contactId: `e2e-${i}`, phoneNumber: testNumber(i) }),
    )
    // plus tasks that must not be dialed: a bad body, one without a phone, an unknown campaign
    const extra = [
      'not json',
      JSON.stringify({ campaignId: DEMO_CAMPAIGN_ID, contactId: 'no-phone', attempts: 0 }),
      JSON.stringify({ ...tasks[0], campaignId: 'no-such-campaign', contactId: 'orphan' }),
    ]
    // as `dialctl push` does: the dial gate dials only contacts that exist (issue #11)
    const registered = await registerPushedContacts(
      stack.pool,
      tasks.map((task, i) => ({ id: String(i), task })),
    )
    expect(registered.refused).toEqual([])
    const bodies = [...tasks.map((t) => JSON.stringify(t)), ...extra]
    for (let i = 0; i < bodies.length; i += 10) {
      const chunk = bodies.slice(i, i + 10).map((body, j) => ({ id: String(j), body }))
      const sent = await stack.queue.sendBatch(chunk)
      expect(sent.failed).toEqual([])
    }

    // wait until the queue is empty and no call is active, bounded
    let busiestStatus = 0
    await vi.waitFor(
      async () => {
        busiestStatus = Math.max(busiestStatus, (await stack.status()).cpsNow)
        const depth = await stack.queue.depth()
        if (depth.visible + depth.inFlight > 0 || stack.worker.activeCalls > 0)
          throw new Error(`not drained: ${JSON.stringify(depth)}, ${stack.worker.activeCalls} active calls`)
      },
      { timeout: 120_000, interval: 250 },
    )
    await stack.worker.idle()
    const elapsedS = (Date.now() - started) / 1000

    const { rows: attempts } = await stack.pool.query<{ contact_id: string; n: string }>(
      `SELECT contact_id, count(*) AS n FROM call_attempts GROUP BY contact_id`,
    )
    const dialed = new Map(attempts.map((r) => [r.contact_id, Number(r.n)]))
    const { rows: dlqRows } = await stack.pool.query<{ contact_id: string | null }>(
      `SELECT contact_id FROM task_outcomes WHERE outcome = 'dlq'`,
    )
    const inDlq = new Set(dlqRows.map((r) => r.contact_id))
    // conservation: every pushed task was dialed exactly once or is in the DLQ, never both
    for (const t of tasks) {
      const n = dialed.get(t.contactId) ?? 0
      expect(n, `contact ${t.contactId}`).toBeLessThanOrEqual(1)
      expect(n === 1 || inDlq.has(t.contactId), `contact ${t.contactId} has no outcome`).toBe(true)
      expect(n === 1 && inDlq.has(t.contactId), `contact ${t.contactId} dialed and in the DLQ`).toBe(false)
    }
    expect(dialed.has('orphan')).toBe(false)
    expect(dialed.has('no-phone')).toBe(false)
    const { rows: extraOutcomes } = await stack.pool.query<{ outcome: string; reason: string }>(
      `SELECT outcome, reason FROM task_outcomes WHERE outcome IN ('filtered', 'dropped') ORDER BY outcome, reason`,
    )
    // a non-JSON body cannot match the body filter (as on Pipes); the unknown campaign is enrich's drop
    expect(extraOutcomes.map((r) => r.outcome)).toEqual(['dropped', 'filtered', 'filtered'])
    expect(extraOutcomes[0]!.reason).toMatch(/campaign_not_found/)
    // nothing at all waits in the DLQ here: the pipe slows down when the dialer is rate-limited
    expect(inDlq.size).toBe(0)
    expect(dialed.size).toBe(TASKS)

    // the limiter's own per-second record: no second over the limit
    const history = await readCpsHistory(stack.redis, 120, { prefix })
    const busiest = Math.max(...history.seconds.map((s) => s.admitted))
    expect(busiest).toBeLessThanOrEqual(LIMIT)
    expect(history.admitted).toBe(TASKS)
    // the status line `dialctl dev` shows saw the pace too
    expect(busiestStatus).toBeGreaterThan(0)
    expect(busiestStatus).toBeLessThanOrEqual(LIMIT)
    // and the run took no less than the limit allows
    expect(elapsedS).toBeGreaterThanOrEqual((TASKS - LIMIT) / LIMIT)
    console.log(
      `e2e: ${TASKS} tasks in ${elapsedS.toFixed(1)} s (limit ${LIMIT}/s), busiest second ${busiest}, rate-limited retries ${history.rateLimited}`,
    )
  }, 180_000)
})
