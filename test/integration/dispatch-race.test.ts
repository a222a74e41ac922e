import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type pg from 'pg'
import { createPool } from '../../src/db/pool.js'
import { claimEligible } from '../../src/dispatch/contacts.js'
import { dispatchOnce } from '../../src/dispatch/dispatch.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { fixedLimits, insertCampaign, insertContacts, MemoryQueue } from './dispatch-fixtures.js'

let t: TestDb
// Two dispatchers = two processes: each has its own pool (own connections).
let poolA: pg.Pool
let poolB: pg.Pool
beforeAll(async () => {
  t = await createTestDb('disprace')
  poolA = createPool({ schema: t.schema, max: 4 })
  poolB = createPool({ schema: t.schema, max: 4 })
})
afterAll(async () => {
  await poolA?.end()
  await poolB?.end()
  await t?.drop()
})

describe('two dispatchers racing', () => {
  it('never queue a contact twice: the raw claim, 30 concurrent rounds', async () => {
    await insertCampaign(t.pool, 'raw')
    await insertContacts(t.pool, 'raw', 2000)
    const now = new Date()
    const claimed: string[] = []
    for (let round = 0; round < 30; round++) {
      const [a, b] = await Promise.all([
        claimEligible(poolA, 'raw', { now, maxAttempts: 3, limit: 30 }),
        claimEligible(poolB, 'raw', { now, maxAttempts: 3, limit: 30 }),
      ])
      claimed.push(...a.map((c) => c.id), ...b.map((c) => c.id))
    }
    expect(claimed.length).toBe(30 * 2 * 30)
    expect(new Set(claimed).size).toBe(claimed.length)
    const { rows } = await t.pool.query(
      `SELECT count(*)::int AS n FROM contacts WHERE campaign_id = 'raw' AND status = 'queued'`,
    )
    expect(rows[0].n).toBe(claimed.length)
  })

  it('never queue a contact twice: full dispatchOnce runs until the campaign is drained', async () => {
    for (let scenario = 0; scenario < 3; scenario++) {
      const id = `race-${scenario}`
      await insertCampaign(t.pool, id, { config: { maxConcurrentCalls: 100_000 } })
      await insertContacts(t.pool, id, 1500, undefined, { phoneOffset: 10_000 * (scenario + 1) })
      const queue = new MemoryQueue() // one shared queue, as both would send to the same SQS queue
      // Small runs so the two dispatchers interleave many times.
      const limits = fixedLimits(1_000_000, { maxPerRun: 47 })
      let runs = 0
      for (;;) {
        const [a, b] = await Promise.all([
          dispatchOnce({ db: poolA, queue, limits, campaignId: id }),
          dispatchOnce({ db: poolB, queue, limits, campaignId: id }),
        ])
        runs++
        if (a.queued + b.queued === 0) break
        expect(runs).toBeLessThan(100)
      }
      const ids = queue.tasks.map((task) => task.contactId)
      expect(ids).toHaveLength(1500)
      expect(new Set(ids).size).toBe(1500)
    }
  })

  it('together they respect the campaign capacity (maxConcurrentCalls minus in flight)', async () => {
    await insertCampaign(t.pool, 'cap', { config: { maxConcurrentCalls: 25 } })
    await insertContacts(t.pool, 'cap', 200, undefined, { phoneOffset: 90_000 })
    const queue = new MemoryQueue()
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        dispatchOnce({ db: poolA, queue, limits: fixedLimits(1000), campaignId: 'cap' }),
        dispatchOnce({ db: poolB, queue, limits: fixedLimits(1000), campaignId: 'cap' }),
      ])
      // Nothing drains the queue here, so in flight must stop at exactly the cap.
      expect(queue.messages).toHaveLength(25)
    }
  })
})

describe('pacing against demand', () => {
  // Its own schema: the CPS budget is shared by every campaign, so other tests' queued contacts would count.
  let p: TestDb
  beforeAll(async () => {
    p = await createTestDb('disppace')
  })
  afterAll(async () => {
    await p?.drop()
  })

  it('queues no more than CPS × horizon, minus what the campaign already has in flight', async () => {
    await insertCampaign(p.pool, 'slow', { config: { maxConcurrentCalls: 500 } })
    await insertContacts(p.pool, 'slow', 100, undefined, { phoneOffset: 200_000 })
    const queue = new MemoryQueue()
    const first = await dispatchOnce({
      db: p.pool,
      queue,
      limits: fixedLimits(3, { horizonSeconds: 10 }),
      campaignId: 'slow',
    })
    expect(first.campaigns[0]).toMatchObject({ capacity: 30, queued: 30, eligibleNow: true, waitSeconds: 5 })
    // 12 of them dialed, 18 still queued: the limit drops to 2 → 20 − 30 in flight → nothing more.
    await p.pool.query(
      `UPDATE contacts SET status = 'dialing' WHERE campaign_id = 'slow' AND id IN (SELECT id FROM contacts WHERE campaign_id = 'slow' AND status = 'queued' LIMIT 12)`,
    )
    const slowed = await dispatchOnce({
      db: p.pool,
      queue,
      limits: fixedLimits(2, { horizonSeconds: 10 }),
      campaignId: 'slow',
    })
    expect(slowed.campaigns[0]).toMatchObject({ capacity: 0, queued: 0 })
    // 20 calls end: 10 in flight → room for 10 more at 2 CPS.
    await p.pool.query(
      `UPDATE contacts SET status = 'done' WHERE campaign_id = 'slow' AND id IN (SELECT id FROM contacts WHERE campaign_id = 'slow' AND status IN ('queued', 'dialing') ORDER BY status LIMIT 20)`,
    )
    const after = await dispatchOnce({
      db: p.pool,
      queue,
      limits: fixedLimits(2, { horizonSeconds: 10 }),
      campaignId: 'slow',
    })
    expect(after.campaigns[0]).toMatchObject({ capacity: 10, queued: 10, inflight: 20 })
  })

  it('shares the CPS budget across campaigns: all of them together queue at most CPS × horizon', async () => {
    const local = await createTestDb('dispshare')
    try {
      for (const id of ['s1', 's2', 's3']) {
        await insertCampaign(local.pool, id)
        await insertContacts(local.pool, id, 50, undefined, {
          phoneOffset: 300_000 + id.charCodeAt(1) * 1000,
        })
      }
      const queue = new MemoryQueue()
      const run = await dispatchOnce({
        db: local.pool,
        queue,
        limits: fixedLimits(4, { horizonSeconds: 10 }),
      })
      expect(run.queued).toBe(40)
      expect(queue.messages).toHaveLength(40)
      const again = await dispatchOnce({
        db: local.pool,
        queue,
        limits: fixedLimits(4, { horizonSeconds: 10 }),
      })
      expect(again.queued).toBe(0)
    } finally {
      await local.drop()
    }
  })
})
