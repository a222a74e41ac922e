import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { migrate } from '../../src/db/migrate.js'
import { ensurePostgres, ensureRedis } from '../../src/local-stack/services.js'

// Port 1 is never served here: it stands for "no local server".
const NOWHERE_PG = 'postgres://postgres@127.0.0.1:1/test'
const NOWHERE_REDIS = 'redis://127.0.0.1:1'

describe('local stack services: embedded defaults so a newcomer needs only Node', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialctl-services-'))
  const saved = { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL }
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('uses a reachable PostgreSQL as it is', async () => {
    delete process.env.DATABASE_URL
    const handle = await ensurePostgres(dataDir)
    expect(handle.kind).toBe('external')
    await handle.stop()
  })

  it('runs an embedded PostgreSQL (PGlite over the wire) when none is reachable, persisted on disk', async () => {
    delete process.env.DATABASE_URL
    const handle = await ensurePostgres(dataDir, { defaultUrl: NOWHERE_PG })
    expect(handle.kind).toBe('embedded')
    expect(handle.description).toContain(join(dataDir, 'pgdata'))
    // the same pg code path: migrations and a query through a pool
    const result = await migrate({ connectionString: handle.url })
    expect(result.applied).toContain('0001_core')
    const pool = new pg.Pool({ connectionString: handle.url, max: 2 })
    await pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ('+12125550100', 'test', 'test')`,
    )
    await pool.end()
    await handle.stop()

    // a restart finds the data again
    const again = await ensurePostgres(dataDir, { defaultUrl: NOWHERE_PG })
    const client = new pg.Client({ connectionString: again.url })
    await client.connect()
    const { rows } = await client.query('SELECT phone_number FROM blacklist')
    expect(rows).toEqual([{ phone_number: '+12125550100' }])
    await client.end()
    await again.stop()
  }, 120_000)

  it('refuses an explicit DATABASE_URL that does not answer, saying what to do', async () => {
    process.env.DATABASE_URL = NOWHERE_PG
    const error = await ensurePostgres(dataDir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperatorError)
    expect((error as OperatorError).message).toContain('127.0.0.1:1')
    expect((error as OperatorError).suggestion).toMatch(/unset it/)
  })

  it('starts a private redis-server when no Redis is reachable, and stops it', async () => {
    delete process.env.REDIS_URL
    const handle = await ensureRedis({ defaultUrl: NOWHERE_REDIS })
    expect(handle.kind).toBe('embedded')
    const redis = new Redis(handle.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    redis.on('error', () => {})
    await redis.connect()
    expect(await redis.ping()).toBe('PONG')
    redis.disconnect()
    await handle.stop()
  })

  it('refuses an explicit REDIS_URL that does not answer', async () => {
    process.env.REDIS_URL = NOWHERE_REDIS
    await expect(ensureRedis()).rejects.toThrow(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1/)
  })
})
