import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLimitStore, listPacingAudit } from '../../src/pacing/limit-store.js'
import { pacingKeys } from '../../src/pacing/keys.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

/**
 * The scheduled pacer Lambda, end to end but for AWS: CloudWatch (mocked, inputs asserted) says
 * the worker fleet runs at 90% CPU; the real Redis and PostgreSQL get the cut and its audit row.
 */
const cloudwatch = mockClient(CloudWatchClient)
let db: TestDb
let redis: TestRedis
const saved = { ...process.env }

beforeAll(async () => {
  db = await createTestDb('pacer')
  redis = await createTestRedis('pacer')
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_STAGE: 'prod',
    REDIS_URL: 'redis://127.0.0.1:6379',
    DIALCTL_REDIS_PREFIX: redis.prefix,
    MAX_CPS: '100',
    WORKER_CLUSTER_NAME: 'prod-cluster',
    WORKER_SERVICE_NAME: 'prod-worker',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
})

afterAll(async () => {
  process.env = saved
  cloudwatch.restore()
  await redis.cleanup()
  await db.drop()
})

describe('pacer Lambda', () => {
  it('cuts the live limit to 25 when the worker fleet is above 85% CPU, audited as the pacer', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'cpu', Values: [90] }] })
    const { handler } = await import('../../functions/pacer.js')
    const step = await handler()
    expect(step).toMatchObject({ limit: 25 })

    const metric = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries![0]!
    expect(metric.MetricStat!.Metric).toEqual({
      Namespace: 'AWS/ECS',
      MetricName: 'CPUUtilization',
      Dimensions: [
        { Name: 'ClusterName', Value: 'prod-cluster' },
        { Name: 'ServiceName', Value: 'prod-worker' },
      ],
    })
    expect(await redis.redis.get(pacingKeys(redis.prefix).limit)).toBe('25')
    const [audit] = await listPacingAudit(db.pool, { limit: 1 })
    expect(audit).toMatchObject({ actor: 'pacer', newLimit: 25 })
  })

  it('respects an operator hold: a cut that is not a safety cut is not applied (the step says so); a safety cut still lowers it, audited as one, the hold kept', async () => {
    const store = createLimitStore({ redis: redis.redis, prefix: redis.prefix, db: db.pool, cacheMs: 0 })
    await store.setLimit(
      80,
      { actor: 'alice', reason: 'carrier asked', source: 'cli' },
      { hold: { untilMs: null } },
    )
    const { handler } = await import('../../functions/pacer.js')
    // warm fleet (the 50 tier): the policy would cut 80 → 50, but alice holds 80
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'cpu', Values: [75] }] })
    const held = await handler()
    // the step reports the decision (50) and that the hold kept it from applying
    expect(held).toMatchObject({ limit: 50, heldBy: 'alice', applied: false })
    expect(held.reason).toMatch(/^held by alice: not applied \(cut 80 → 50: CPU 75\.0%/)
    expect(await redis.redis.get(pacingKeys(redis.prefix).limit)).toBe('80')
    // critical CPU: a safety cut goes through the hold, says so, and the hold stays
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'cpu', Values: [95] }] })
    const cut = await handler()
    expect(cut).toMatchObject({ limit: 25, applied: true })
    expect(await redis.redis.get(pacingKeys(redis.prefix).limit)).toBe('25')
    const [audit] = await listPacingAudit(db.pool, { limit: 1 })
    expect(audit).toMatchObject({ actor: 'pacer', oldLimit: 80, newLimit: 25 })
    expect(audit?.reason ?? '').toMatch(/safety cut below the limit held by alice \(hold kept\)/)
    expect((await store.control())?.mode).toBe('held')
  })
})
