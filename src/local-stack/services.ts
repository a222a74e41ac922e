import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { bestEffort, errorMessage, OperatorError } from '../errors.js'
import { createPool, DEFAULT_DATABASE_URL } from '../db/pool.js'
import { createRedisClient, DEFAULT_REDIS_URL, parseRedisUrl } from '../stores/redis.js'
import { PgliteWireServer } from './pglite-server.js'

export { DEFAULT_REDIS_URL } from '../stores/redis.js'

export interface ServiceHandle {
  url: string
  /** 'external' = a server we found; 'embedded' = one we started and will stop */
  kind: 'external' | 'embedded'
  description: string
  stop(): Promise<void>
}

async function postgresReachable(url: string): Promise<boolean> {
  const pool = createPool(url, { max: 1, connectTimeoutMs: 2000, queryTimeoutMs: 2000 })
  try {
    await pool.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await bestEffort(pool.end(), 'a probe connection: its answer is already known')
  }
}

async function redisReachable(url: string): Promise<boolean> {
  const redis = createRedisClient(parseRedisUrl(url), { role: 'probe' })
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = net.createServer()
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        const address = server.address() as net.AddressInfo
        server.close(() => resolve(address.port))
      })
    })
  return tryPort(preferred).catch(() => tryPort(0))
}

/**
 * PostgreSQL for the local stack: DATABASE_URL if set (it must work), else the default local
 * server, else an embedded PGlite persisted under `<dataDir>/pgdata` and served over the wire
 * protocol, so every component keeps using the same `pg` code path.
 */
export async function ensurePostgres(
  dataDir: string,
  options: { defaultUrl?: string | undefined } = {},
): Promise<ServiceHandle> {
  const explicit = process.env.DATABASE_URL
  const url = explicit ?? options.defaultUrl ?? DEFAULT_DATABASE_URL
  if (await postgresReachable(url)) {
    return { url, kind: 'external', description: `PostgreSQL at ${redactUrl(url)}`, stop: async () => {} }
  }
  if (explicit) {
    throw new OperatorError(
      `PostgreSQL is not reachable at ${redactUrl(explicit)} (DATABASE_URL).`,
      'Start that server, fix DATABASE_URL, or unset it to let `dialctl dev` run an embedded PostgreSQL.',
    )
  }
  try {
    const { PGlite } = await import('@electric-sql/pglite')
    const dir = join(dataDir, 'pgdata')
    mkdirSync(dir, { recursive: true })
    const db = await PGlite.create(dir)
    const server = new PgliteWireServer(db)
    const port = await server.listen(await freePort(54329))
    const embeddedUrl = `postgres://postgres@127.0.0.1:${port}/postgres`
    return {
      url: embeddedUrl,
      kind: 'embedded',
      description: `embedded PostgreSQL (PGlite, data in ${dir}) at 127.0.0.1:${port}`,
      async stop() {
        await server.close()
        await db.close()
      },
    }
  } catch (error) {
    throw new OperatorError(
      `PostgreSQL is not reachable at ${redactUrl(url)} and the embedded PostgreSQL (PGlite) failed to start: ${errorMessage(error)}`,
      'Install and start PostgreSQL (apt-get install -y postgresql && pg_ctlcluster 15 main start) or set DATABASE_URL.',
    )
  }
}

/**
 * Redis for the local stack: REDIS_URL if set (it must work), else the default local server,
 * else a private `redis-server` from PATH on a free port (nothing persisted: the limiter's
 * state is short-lived by design).
 */
export async function ensureRedis(options: { defaultUrl?: string | undefined } = {}): Promise<ServiceHandle> {
  const explicit = process.env.REDIS_URL
  const url = explicit ?? options.defaultUrl ?? DEFAULT_REDIS_URL
  if (await redisReachable(url)) {
    return { url, kind: 'external', description: `Redis at ${redactUrl(url)}`, stop: async () => {} }
  }
  if (explicit) {
    throw new OperatorError(
      `Redis is not reachable at ${redactUrl(explicit)} (REDIS_URL).`,
      'Start that server, fix REDIS_URL, or unset it to let `dialctl dev` start a private redis-server.',
    )
  }
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (found.error) {
    throw new OperatorError(
      `Redis is not reachable at ${url} and there is no redis-server on PATH to start a private one.`,
      'Install it (apt-get install -y redis-server, or brew install redis) or set REDIS_URL to a running Redis.',
    )
  }
  const port = await freePort(6390)
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  const privateUrl = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 50; i++) {
    if (await redisReachable(privateUrl)) {
      return {
        url: privateUrl,
        kind: 'embedded',
        description: `private redis-server (pid ${child.pid}) at 127.0.0.1:${port}`,
        async stop() {
          child.kill('SIGTERM')
        },
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new OperatorError(
    `A private redis-server on 127.0.0.1:${port} did not answer within 5 s.`,
    'Start Redis yourself (redis-server --daemonize yes) or set REDIS_URL.',
  )
}

/** Hides a password in a connection URL before it is shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}
