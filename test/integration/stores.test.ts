import { randomBytes, randomInt } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import {
  createPool,
  describePg,
  parseDatabaseUrl,
  pgSettingsFromEnv,
  withTransaction,
  type PgSettings,
} from '../../src/db/pool.js'
import {
  createRedisClient,
  describeRedis,
  parseRedisUrl,
  redisSettingsFromEnv,
  type RedisSettings,
} from '../../src/stores/redis.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { startFreezableProxy, startSilentServer, type SilentServer } from '../helpers/silent-server.js'
import { createLogger } from '../../src/observability/logger.js'
import { createResilientLimiter } from '../../src/pacing/degraded.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'

// The alphabets of generated secrets: letters and digits, ElastiCache's allowed specials
// (`!&#$^<>-`, AWS ElastiCache AUTH docs) and the URL-breaking ones a random password generator
// emits with `special: true` (`/ @ % : ? #`).
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789' + '!&#$^<>-' + '/@%:?#'
const secret = (length = 40) =>
  Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('') + '#/@%:'

let db: TestDb
let r: TestRedis
const silent: SilentServer[] = []
const crashes: unknown[] = []
const onCrash = (error: unknown) => crashes.push(error)

beforeAll(async () => {
  db = await createTestDb('stores')
  r = await createTestRedis('stores')
  process.on('uncaughtException', onCrash)
})
afterEach(async () => {
  for (const s of silent.splice(0)) await s.close()
})
afterAll(async () => {
  process.off('uncaughtException', onCrash)
  await r.cleanup()
  await db.drop()
})

describe('connection settings from parts (#13 item 2)', () => {
  it('a Redis user whose password is drawn from the generated alphabets logs in', async () => {
    const username = `dialctl-test-${randomBytes(4).toString('hex')}`
    const password = secret()
    await r.redis.call('ACL', 'SETUSER', username, 'on', `>${password}`, '~*', '+@all')
    const client = createRedisClient(
      { host: '127.0.0.1', port: 6379, username, password, tls: false },
      { role: 'cli' },
    )
    try {
      expect(await client.ping()).toBe('PONG')
      expect(await client.call('ACL', 'WHOAMI')).toBe(username)
    } finally {
      client.disconnect()
      await r.redis.call('ACL', 'DELUSER', username)
    }
  })

  it('a wrong Redis password is refused, not ignored', async () => {
    const username = `dialctl-test-${randomBytes(4).toString('hex')}`
    await r.redis.call('ACL', 'SETUSER', username, 'on', `>${secret()}`, '~*', '+@all')
    const client = createRedisClient(
      { host: '127.0.0.1', port: 6379, username, password: secret(), tls: false },
      { role: 'probe' },
    )
    try {
      await expect(client.ping()).rejects.toThrow(/WRONGPASS|invalid username-password/i)
    } finally {
      client.disconnect()
      await r.redis.call('ACL', 'DELUSER', username)
    }
  })

  it('a PostgreSQL pool is given the password as a part, byte for byte, and connects', async () => {
    const password = secret()
    const settings: PgSettings = {
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      password,
      database: 'test',
      ssl: false,
    }
    const pool = createPool(settings, { max: 1, schema: db.schema })
    try {
      expect((pool as unknown as { options: { password: string } }).options.password).toBe(password)
      const { rows } = await pool.query<{ s: string }>('SELECT current_schema() AS s')
      expect(rows[0]!.s).toBe(db.schema)
    } finally {
      await pool.end()
    }
  })

  it('settings round-trip through percent-encoded local URLs for any secret', () => {
    const secretArb = fc.string({ unit: fc.constantFrom(...ALPHABET.split('')), minLength: 1, maxLength: 64 })
    fc.assert(
      fc.property(secretArb, secretArb, (user, password) => {
        const pg = parseDatabaseUrl(
          `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@db.internal:6432/dialer?sslmode=require`,
        )
        expect(pg).toEqual({ host: 'db.internal', port: 6432, user, password, database: 'dialer', ssl: true })
        const redis = parseRedisUrl(
          `rediss://${encodeURIComponent(user)}:${encodeURIComponent(password)}@cache.internal:6380/2`,
        )
        expect(redis).toEqual({
          host: 'cache.internal',
          port: 6380,
          username: user,
          password,
          tls: true,
          db: 2,
        })
        // what is printed never holds the secret
        expect(describePg({ ...pg, user: 'u' })).toBe('postgres://u@db.internal:6432/dialer')
        expect(describeRedis(redis)).toBe('rediss://cache.internal:6380/2')
      }),
    )
  })

  it('parts in the environment win and are taken verbatim; a spliced URL is refused with the variable named', () => {
    const password = 'ab#c/d@e%f:g'
    expect(
      redisSettingsFromEnv({
        REDIS_HOST: 'cache',
        REDIS_PORT: '6380',
        REDIS_PASSWORD: password,
        REDIS_TLS: 'true',
      }),
    ).toEqual({ host: 'cache', port: 6380, password, tls: true } satisfies RedisSettings)
    expect(
      pgSettingsFromEnv({
        PGHOST: 'db',
        PGUSER: 'dialer',
        PGPASSWORD: password,
        PGDATABASE: 'dialer',
        PGSSL: '1',
      }),
    ).toEqual({ host: 'db', port: 5432, user: 'dialer', password, database: 'dialer', ssl: true })
    // What string concatenation with such a password produces:
    expect(() => redisSettingsFromEnv({ REDIS_URL: `rediss://:${password}@cache:6379` })).toThrow(/REDIS_URL/)
    expect(() => pgSettingsFromEnv({ DATABASE_URL: `postgres://dialer:${password}@db:5432/dialer` })).toThrow(
      /DATABASE_URL/,
    )
    expect(() => redisSettingsFromEnv({ REDIS_HOST: 'cache', REDIS_PORT: 'x' })).toThrow(/REDIS_PORT/)
  })
})

describe('bounded waits on a silent store (#15)', () => {
  it('a Redis that accepts TCP and never answers fails a CLI command within its bounds', async () => {
    const s = await startSilentServer()
    silent.push(s)
    const client = createRedisClient({ host: '127.0.0.1', port: s.port, tls: false }, { role: 'cli' })
    const started = Date.now()
    try {
      await expect(client.get('k')).rejects.toThrow()
      expect(Date.now() - started).toBeLessThan(5000)
      expect(s.accepted()).toBeGreaterThan(0)
    } finally {
      client.disconnect()
    }
  })

  it('the dialer role fails commands at once while a silent Redis keeps it from being ready', async () => {
    const s = await startSilentServer()
    silent.push(s)
    const client = createRedisClient({ host: '127.0.0.1', port: s.port, tls: false }, { role: 'dialer' })
    try {
      await vi.waitFor(() => expect(s.accepted()).toBeGreaterThan(0))
      const started = Date.now()
      await expect(client.get('k')).rejects.toThrow()
      expect(Date.now() - started).toBeLessThan(1500)
      // the ready-check bound tears the silent connection down and ioredis tries again
      await vi.waitFor(() => expect(s.accepted()).toBeGreaterThan(1), { timeout: 8000 })
    } finally {
      client.disconnect()
    }
  })

  it('a PostgreSQL that accepts TCP and never answers fails a query within the connect bound', async () => {
    const s = await startSilentServer()
    silent.push(s)
    const pool = createPool(
      { host: '127.0.0.1', port: s.port, user: 'postgres', database: 'test', ssl: false },
      { max: 1, connectTimeoutMs: 1500 },
    )
    const started = Date.now()
    try {
      await expect(pool.query('SELECT 1')).rejects.toThrow(/timeout/i)
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      await pool.end()
    }
  })
})

describe('the dialer role on a Redis that freezes mid-session (#15)', () => {
  it('the limiter the Lambda and the local stack build enters degraded mode within a second and recovers', async () => {
    const proxy = await startFreezableProxy(6379)
    const redis = createRedisClient({ host: '127.0.0.1', port: proxy.port, tls: false }, { role: 'dialer' })
    const logger = createLogger('test-frozen', { level: 'SILENT' })
    const limiter = createResilientLimiter({
      primary: createRedisLimiter({ redis, prefix: `${r.prefix}frozen:` }),
      degradedCps: 5,
      logger,
    })
    try {
      await vi.waitFor(() => expect(redis.status).toBe('ready'))
      expect((await limiter.admit(1, 100)).mode).toBe('redis')
      proxy.freeze()
      const started = Date.now()
      const admitted = await limiter.admit(3, 100)
      expect(admitted.mode).toBe('degraded')
      // the command bound of the dialer role (1 s), not the 40 s the issue saw
      expect(Date.now() - started).toBeLessThan(2500)
      proxy.thaw()
      // the frozen socket was torn down (socket timeout); the client reconnects and pacing is shared again
      await vi.waitFor(async () => expect((await limiter.admit(1, 100)).mode).toBe('redis'), {
        timeout: 10_000,
      })
    } finally {
      redis.disconnect()
      await proxy.close()
    }
  })
})

describe('a PostgreSQL connection dropped while checked out (#15)', () => {
  it('pg_terminate_backend between two statements of a transaction rejects, rolls back, releases; no crash', async () => {
    await db.pool.query('CREATE TABLE IF NOT EXISTS store_probe (id int primary key)')
    const pool = createPool({ schema: db.schema, max: 1 })
    try {
      const attempt = withTransaction(pool, async (client) => {
        await client.query('INSERT INTO store_probe (id) VALUES (1)')
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
        await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
        // the client's socket closes: an 'error' event on a checked-out client
        await vi.waitFor(() => expect((client as unknown as { _ended: boolean })._ended).toBe(true))
        await client.query('INSERT INTO store_probe (id) VALUES (2)')
      })
      await expect(attempt).rejects.toThrow(/terminat|Connection/i)
      // nothing half-done is left, the pool (max 1) has its slot back and works
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM store_probe')
      expect(Number(rows[0]!.n)).toBe(0)
      expect(crashes).toEqual([])
    } finally {
      await pool.end()
    }
  })

  it('a checked-out client whose backend is killed while idle in the caller does not crash the process', async () => {
    const pool = createPool({ schema: db.schema, max: 1 })
    try {
      const client = await pool.connect()
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
      await vi.waitFor(() => expect((client as unknown as { _ended: boolean })._ended).toBe(true))
      await expect(client.query('SELECT 1')).rejects.toThrow()
      client.release()
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1)
      expect(crashes).toEqual([])
    } finally {
      await pool.end()
    }
  })
})
