import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DataPlane } from '../../src/control/data.js'
import { followLine, summarize } from '../../src/control/load-test.js'
import { recordTaskOutcomes, type TaskOutcome } from '../../src/outcomes/task-outcomes.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

let db: TestDb
let redis: TestRedis

beforeAll(async () => {
  db = await createTestDb('run_progress')
  redis = await createTestRedis('run_progress')
})
afterAll(async () => {
  await redis.cleanup()
  await db.drop()
})

describe('runProgress: what happened to a load-test run', () => {
  it('counts final outcomes without a dial by stage and reason code, from the recorded outcomes of that run only', async () => {
    const o = (
      contactId: string,
      stage: TaskOutcome['stage'],
      outcome: TaskOutcome['outcome'],
      reason?: string,
    ) =>
      ({ campaignId: 'load-test', contactId, stage, outcome, ...(reason ? { reason } : {}) }) as TaskOutcome
    await recordTaskOutcomes(db.pool, [
      o(
        'lt-r1-1',
        'enrich',
        'dropped',
        'outside_calling_window: closed in UTC (campaign); next opening 2026-01-01T09:00:00.000Z',
      ),
      o(
        'lt-r1-2',
        'enrich',
        'dropped',
        'outside_calling_window: closed in UTC (campaign); next opening 2026-01-01T09:00:00.000Z',
      ),
      o('lt-r1-3', 'dialer', 'dropped', 'blacklisted'),
      o('lt-r1-4', 'dialer', 'failed', 'worker answered 500'),
      o(
        'lt-r1-4',
        'queue',
        'dlq',
        'received 3 times (maxReceiveCount 3): moved from dial-tasks to dial-tasks-dlq',
      ),
      o('lt-r1-5', 'enrich', 'dropped', 'campaign_paused'),
      o('lt-r1-6', 'dialer', 'deferred', 'rate_limit: back in 1 s at its next slot'),
      o('lt-r1-6', 'dialer', 'deferred', 'rate_limit: back in 1 s at its next slot'),
      o('lt-r1-6', 'dialer', 'rate_limited', 'rate_limit'),
      o('lt-r1-6', 'dialer', 'dialed'),
      // another run's task: not counted
      o('lt-r2-1', 'dialer', 'dropped', 'blacklisted'),
    ])
    const data = new DataPlane({
      pool: db.pool,
      redis: redis.redis,
      redisPrefix: redis.prefix,
      defaultLimit: 5,
    })
    const p = await data.runProgress('load-test', 'lt-r1-', new Date(Date.now() - 60_000), new Map())
    // deferrals (no receive spent) and limiter retries (a receive spent) are counted apart
    expect(p).toMatchObject({ dialed: 1, deferred: 2, rateLimited: 1, failed: 1, dropped: 4, dlq: 1 })
    expect(p.notDialed).toEqual([
      { stage: 'enrich', outcome: 'dropped', reason: 'outside_calling_window', count: 2 },
      // most first, then by outcome, stage, reason
      { stage: 'queue', outcome: 'dlq', reason: null, count: 1 },
      { stage: 'dialer', outcome: 'dropped', reason: 'blacklisted', count: 1 },
      { stage: 'enrich', outcome: 'dropped', reason: 'campaign_paused', count: 1 },
    ])
  })

  it('tasks held in the dialer until their slot (nothing recorded yet) and deferred ones are waiting: not dialed, not lost, not deferred twice over', async () => {
    // A run of 10 at a low limit: the dialer's batch dialed 2 and holds 5 until their slots (the
    // hold records no outcome: src/dialer/admission.ts); 2 went back to the queue for a far slot
    // (one of them twice); 1 was dropped at the gate.
    const o = (contactId: string, outcome: TaskOutcome['outcome'], reason?: string) =>
      ({
        campaignId: 'load-test',
        contactId,
        stage: 'dialer',
        outcome,
        ...(reason ? { reason } : {}),
      }) as TaskOutcome
    await recordTaskOutcomes(db.pool, [
      o('lt-h1-0', 'dialed'),
      o('lt-h1-1', 'dialed'),
      o('lt-h1-7', 'deferred', 'limit 2 CPS (redis): back in 3 s at its next slot'),
      o('lt-h1-7', 'deferred', 'limit 2 CPS (redis): back in 1 s at its next slot'),
      o('lt-h1-8', 'deferred', 'limit 2 CPS (redis): back in 4 s at its next slot'),
      o('lt-h1-9', 'dropped', 'blacklisted'),
    ])
    const data = new DataPlane({
      pool: db.pool,
      redis: redis.redis,
      redisPrefix: redis.prefix,
      defaultLimit: 2,
    })
    const progress = await data.runProgress('load-test', 'lt-h1-', new Date(Date.now() - 60_000), new Map())
    const send = { sent: 10, failed: [], sentAt: new Map(), startedAt: 0, finishedAt: 1000 }
    const s = summarize({ runId: 'h1', campaignId: 'load-test', count: 10, concurrency: 1 }, send, progress, {
      dlqGrowth: 0,
      limit: 2,
    })
    expect(s).toMatchObject({ dialed: 2, waiting: 7, deferred: 3, dropped: 1, complete: false })
    expect(s.notDialed).toEqual([{ where: 'dial gate', reason: 'blacklisted', count: 1 }])
    // every requested task is in exactly one column
    expect(s.dialed + s.waiting + s.notDialed.reduce((n, r) => n + r.count, 0)).toBe(s.requested)
    expect(followLine(progress, 10, 0, { cpsNow: 2, limit: 2 })).toBe(
      'CPS 2/2  dialed 2/10  waiting 7 (queued or held for their slot)  not dialed 1  re-queued 3  retried 0  DLQ 0',
    )
    // the held and deferred tasks are dialed later: the run completes with nothing waiting
    await recordTaskOutcomes(
      db.pool,
      ['2', '3', '4', '5', '6', '7', '8'].map((i) => o(`lt-h1-${i}`, 'dialed')),
    )
    const after = await data.runProgress('load-test', 'lt-h1-', new Date(Date.now() - 60_000), new Map())
    expect(
      summarize({ runId: 'h1', campaignId: 'load-test', count: 10, concurrency: 1 }, send, after, {
        dlqGrowth: 0,
        limit: 2,
      }),
    ).toMatchObject({ dialed: 9, waiting: 0, complete: true })
  })
})
