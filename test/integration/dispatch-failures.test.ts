import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dispatchOnce } from '../../src/dispatch/dispatch.js'
import { handleDispatch } from '../../src/dispatch/handler.js'
import { createDispatcherLoop } from '../../src/dispatch/loop.js'
import { releaseStuckContacts } from '../../src/dispatch/recovery.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import {
  contactStatus,
  fixedLimits,
  insertCampaign,
  insertContacts,
  MemoryQueue,
} from './dispatch-fixtures.js'

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('dispfail')
})
afterAll(async () => {
  await t?.drop()
})

async function statuses(campaignId: string): Promise<Record<string, number>> {
  const { rows } = await t.pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM contacts WHERE campaign_id = $1 GROUP BY status',
    [campaignId],
  )
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

describe('send failures', () => {
  it('entries SendMessageBatch refuses are released to pending at once; the rest stay queued', async () => {
    await insertCampaign(t.pool, 'partial')
    await insertContacts(t.pool, 'partial', 25)
    const queue = new MemoryQueue()
    const refused = new Set(['ct-3', 'ct-14', 'ct-22'])
    queue.failEntry = (task) => refused.has(task.contactId)
    const run = await dispatchOnce({ db: t.pool, queue, limits: fixedLimits(), campaignId: 'partial' })
    expect(run.campaigns[0]).toMatchObject({ queued: 22, released: 3 })
    expect(queue.sendCalls.map((c) => c.length)).toEqual([10, 10, 5])
    expect(await statuses('partial')).toEqual({ queued: 22, pending: 3 })
    for (const id of refused) expect((await contactStatus(t.pool, 'partial', id))!.status).toBe('pending')
    const { rows } = await t.pool.query(
      `SELECT contact_id, outcome FROM task_outcomes WHERE campaign_id = 'partial' ORDER BY contact_id`,
    )
    expect(rows).toEqual([...refused].sort().map((id) => ({ contact_id: id, outcome: 'failed' })))
    // The next run sends them.
    queue.failEntry = undefined
    const again = await dispatchOnce({ db: t.pool, queue, limits: fixedLimits(), campaignId: 'partial' })
    expect(again.campaigns[0]).toMatchObject({ queued: 3, released: 0 })
    expect(new Set(queue.tasks.map((x) => x.contactId)).size).toBe(25)
  })

  it('a SendMessageBatch call that throws releases its whole chunk, not the others', async () => {
    await insertCampaign(t.pool, 'throws')
    await insertContacts(t.pool, 'throws', 30, undefined, { phoneOffset: 1000 })
    const queue = new MemoryQueue()
    queue.throwOnSend = (call) => call === 2
    const run = await dispatchOnce({
      db: t.pool,
      queue,
      limits: { ...fixedLimits(), sendConcurrency: 1 },
      campaignId: 'throws',
    })
    expect(run.campaigns[0]).toMatchObject({ queued: 20, released: 10 })
    expect(await statuses('throws')).toEqual({ queued: 20, pending: 10 })
  })
})

describe('crash recovery', () => {
  const now = new Date('2024-06-03T12:00:00Z')
  const old = new Date(now.getTime() - 20 * 60_000)
  const recent = new Date(now.getTime() - 60_000)

  it('releases queued / dialing contacts stuck past the timeout with no open call, and only those', async () => {
    await insertCampaign(t.pool, 'crash')
    await insertContacts(
      t.pool,
      'crash',
      6,
      (i) =>
        [
          { id: 'stuck-queued', status: 'queued', statusChangedAt: old },
          { id: 'stuck-dialing', status: 'dialing', attempts: 1, statusChangedAt: old },
          { id: 'recent-queued', status: 'queued', statusChangedAt: recent },
          { id: 'open-call', status: 'dialing', attempts: 1, statusChangedAt: old },
          { id: 'dead-call', status: 'dialing', attempts: 1, statusChangedAt: old },
          { id: 'old-pending', status: 'pending', statusChangedAt: old },
        ][i]!,
      { phoneOffset: 2000 },
    )
    await t.pool.query(
      `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, started_at) VALUES
       ('call-open', 'crash', 'open-call', 1, '+972500002003', 'dialing', $1),
       ('call-dead', 'crash', 'dead-call', 1, '+972500002004', 'dialing', $2)`,
      [new Date(now.getTime() - 2 * 60_000), new Date(now.getTime() - 2 * 3600_000)],
    )
    const released = await releaseStuckContacts(t.pool, { olderThan: 15 * 60, now })
    expect(released.map((r) => `${r.contactId}:${r.from}`).sort()).toEqual([
      'dead-call:dialing',
      'stuck-dialing:dialing',
      'stuck-queued:queued',
    ])
    expect((await contactStatus(t.pool, 'crash', 'stuck-dialing'))!).toMatchObject({
      status: 'pending',
      attempts: 1,
    })
    expect((await contactStatus(t.pool, 'crash', 'recent-queued'))!.status).toBe('queued')
    expect((await contactStatus(t.pool, 'crash', 'open-call'))!.status).toBe('dialing')
    // Idempotent: a second pass finds nothing.
    expect(await releaseStuckContacts(t.pool, { olderThan: 15 * 60, now })).toEqual([])
  })
})

describe('the Step Functions round (handleDispatch)', () => {
  it('with autoComplete: loops until every contact is done or failed, then completes the campaign and says stop', async () => {
    await insertCampaign(t.pool, 'sfn', { config: { maxConcurrentCalls: 5, autoComplete: true } })
    await insertContacts(t.pool, 'sfn', 8, undefined, { phoneOffset: 3000 })
    const queue = new MemoryQueue()
    const deps = { db: t.pool, queue, limits: fixedLimits(100) }
    const first = await handleDispatch({ campaignId: 'sfn', round: 3 }, deps)
    expect(first).toMatchObject({
      campaignId: 'sfn',
      campaignStatus: 'active',
      queued: 5,
      eligibleRemaining: 8,
      hasMoreEligible: true,
      waitSeconds: 5,
    })
    // The pipeline finishes them all (done), round after round.
    for (let round = 0; round < 3; round++) {
      await t.pool.query(
        `UPDATE contacts SET status = 'done' WHERE campaign_id = 'sfn' AND status = 'queued'`,
      )
      await handleDispatch({ campaignId: 'sfn' }, deps)
    }
    const last = await handleDispatch({ campaignId: 'sfn' }, deps)
    expect(last).toMatchObject({
      campaignStatus: 'completed',
      eligibleRemaining: 0,
      hasMoreEligible: false,
      waitSeconds: 0,
    })
    const { rows } = await t.pool.query(
      `SELECT from_status, to_status, actor, reason FROM campaign_events WHERE campaign_id = 'sfn'`,
    )
    expect(rows).toEqual([
      {
        from_status: 'active',
        to_status: 'completed',
        actor: 'dispatcher',
        reason: 'every contact is done or failed',
      },
    ])
  })

  it('without autoComplete: a campaign whose contacts are all finished stays active, says stop, and dials contacts imported later', async () => {
    await insertCampaign(t.pool, 'open', { config: { maxConcurrentCalls: 5 } })
    await insertContacts(t.pool, 'open', 3, undefined, { phoneOffset: 4000 })
    const queue = new MemoryQueue()
    const deps = { db: t.pool, queue, limits: fixedLimits(100) }
    expect((await handleDispatch({ campaignId: 'open' }, deps)).queued).toBe(3)
    await t.pool.query(`UPDATE contacts SET status = 'done' WHERE campaign_id = 'open'`)
    const finished = await handleDispatch({ campaignId: 'open' }, deps)
    expect(finished).toMatchObject({
      campaignStatus: 'active',
      eligibleRemaining: 0,
      hasMoreEligible: false,
      waitSeconds: 0,
    })
    const { rows: events } = await t.pool.query(`SELECT 1 FROM campaign_events WHERE campaign_id = 'open'`)
    expect(events).toEqual([])
    // New contacts: the next round dials them.
    await insertContacts(t.pool, 'open', 2, (i) => ({ id: `late-${i}` }), { phoneOffset: 4100 })
    const later = await handleDispatch({ campaignId: 'open' }, deps)
    expect(later).toMatchObject({ campaignStatus: 'active', queued: 2, hasMoreEligible: true })
  })

  it('reports not_found for an unknown campaign and refuses a malformed input, naming the field', async () => {
    const deps = { db: t.pool, queue: new MemoryQueue(), limits: fixedLimits() }
    expect(await handleDispatch({ campaignId: 'nope' }, deps)).toMatchObject({
      campaignStatus: 'not_found',
      eligibleRemaining: 0,
      hasMoreEligible: false,
    })
    await expect(handleDispatch({ campaignId: 42 }, deps)).rejects.toThrow(/campaignId: /)
  })

  it('fails the round for a campaign whose config no longer parses, saying what to fix', async () => {
    await t.pool.query(
      `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ('broken', 'b', 'active', '{"audioFileUrl": ""}', 'UTC')`,
    )
    await expect(
      handleDispatch(
        { campaignId: 'broken' },
        { db: t.pool, queue: new MemoryQueue(), limits: fixedLimits() },
      ),
    ).rejects.toThrow(/campaign broken cannot be dispatched: .*audioFileUrl.*fix its config/)
  })
})

describe('the local interval loop', () => {
  it('runs rounds until stopped and reports each one', async () => {
    const local = await createTestDb('disploop')
    try {
      await insertCampaign(local.pool, 'loop')
      await insertContacts(local.pool, 'loop', 3)
      const queue = new MemoryQueue()
      const outputs: number[] = []
      const loop = createDispatcherLoop({
        db: local.pool,
        queue,
        limits: fixedLimits(),
        intervalMs: 10,
        onRound: (o) => outputs.push(o.queued),
      })
      loop.start()
      await expect.poll(() => outputs.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3)
      await loop.stop()
      const rounds = outputs.length
      expect(loop.running).toBe(false)
      expect(outputs[0]).toBe(3)
      expect(outputs.slice(1).every((n) => n === 0)).toBe(true)
      expect(queue.messages).toHaveLength(3)
      // stop() resolves once the loop has ended: no round can follow it
      expect(outputs.length).toBe(rounds)
    } finally {
      await local.drop()
    }
  })
})
