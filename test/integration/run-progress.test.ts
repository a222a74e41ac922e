import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DataPlane } from '../../src/control/data.js'
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
})
