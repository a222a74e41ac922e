import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js'
import { dialctl } from './helpers.js'

// A store that accepts TCP and never answers (failover, half-open NAT path, paused node): every
// command that touches it answers within 5 s, exits 3 (unhealthy) and names the store (#15).
// 5 s is the promise to the operator, not a performance goal: the bounds are 2–3 s.
const PROMISE_MS = 5000

let db: TestDb
let redis: TestRedis
let silentRedis: SilentServer
let silentPg: SilentServer
const saved = { ...process.env }

beforeAll(async () => {
  db = await createTestDb('silent')
  redis = await createTestRedis('silent')
  silentRedis = await startSilentServer()
  silentPg = await startSilentServer()
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN'
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_REDIS_PREFIX: redis.prefix,
    DIALCTL_STAGE: 'local',
    DIALCTL_ACTOR: 'tester',
    DIALCTL_WORKER_URL: 'http://127.0.0.1:9',
    DIALCTL_PIPE_NAME: 'silent-pipe',
    NO_COLOR: '1',
  })
  // Load the CLI's modules once against healthy stores: the bound under test is the store's,
  // not the first import of oclif and the AWS SDK on a busy machine.
  await dialctl(['cps', 'get', '--json'])
})

afterAll(async () => {
  process.env = saved
  await silentRedis.close()
  await silentPg.close()
  await redis.cleanup()
  await db.drop()
})

async function timed(args: string[]) {
  const started = Date.now()
  const run = await dialctl(args)
  return { run, ms: Date.now() - started, text: run.stdout + run.stderr }
}

describe('a Redis that accepts TCP and never answers', () => {
  beforeAll(() => {
    process.env.REDIS_URL = `redis://127.0.0.1:${silentRedis.port}`
  })

  it.each([[['cps', 'get']], [['cps', 'get', '--json']], [['cps', 'set', '7', '--reason', 'test']]])(
    '%j answers within 5 s with exit 3, naming Redis',
    async (args) => {
      const { run, ms, text } = await timed(args)
      expect(ms).toBeLessThan(PROMISE_MS)
      expect(run.exitCode).toBe(3)
      expect(text).toMatch(
        new RegExp(`Redis at redis://127\\.0\\.0\\.1:${silentRedis.port} is not available`),
      )
      expect(text).toMatch(/dialctl doctor/)
      expect(silentRedis.accepted()).toBeGreaterThan(0)
    },
  )

  it('status answers within 5 s with exit 3 and names Redis among its problems', async () => {
    const { run, ms } = await timed(['status', '--json'])
    expect(ms).toBeLessThan(PROMISE_MS)
    expect(run.exitCode).toBe(3)
    const doc = JSON.parse(run.stdout) as { problems: string[] }
    expect(doc.problems.join('\n')).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is not available/)
  })

  it('doctor answers within 5 s with exit 3 and fails the Redis check', async () => {
    const { run, ms } = await timed(['doctor', '--json'])
    expect(ms).toBeLessThan(PROMISE_MS)
    expect(run.exitCode).toBe(3)
    const doc = JSON.parse(run.stdout) as { checks: { id: string; status: string }[] }
    expect(doc.checks.find((c) => c.id === 'redis')?.status).toBe('fail')
    expect(doc.checks.find((c) => c.id === 'postgres')?.status).toBe('ok')
  })
})

describe('a PostgreSQL that accepts TCP and never answers', () => {
  beforeAll(() => {
    process.env.REDIS_URL = `redis://127.0.0.1:6379`
    process.env.DATABASE_URL = `postgres://postgres@127.0.0.1:${silentPg.port}/test`
  })

  it('cps set (writes its audit row) answers within 5 s with exit 3, naming PostgreSQL', async () => {
    const { run, ms, text } = await timed(['cps', 'set', '7', '--reason', 'test'])
    expect(ms).toBeLessThan(PROMISE_MS)
    expect(run.exitCode).toBe(3)
    expect(text).toMatch(/PostgreSQL .*is not available/)
  })

  it('status answers within 5 s with exit 3', async () => {
    const { run, ms } = await timed(['status', '--json'])
    expect(ms).toBeLessThan(PROMISE_MS)
    expect(run.exitCode).toBe(3)
  })

  it('doctor answers within 5 s with exit 3 and fails the PostgreSQL check', async () => {
    const { run, ms } = await timed(['doctor', '--json'])
    expect(ms).toBeLessThan(PROMISE_MS)
    expect(run.exitCode).toBe(3)
    const doc = JSON.parse(run.stdout) as { checks: { id: string; status: string }[] }
    expect(doc.checks.find((c) => c.id === 'postgres')?.status).toBe('fail')
    expect(doc.checks.find((c) => c.id === 'redis')?.status).toBe('ok')
  })
})
