import { spawnSync } from 'node:child_process'
import pg from 'pg'
import { Redis } from 'ioredis'

/**
 * Fails fast, with the fix, when a service the integration tests need is down; and builds the
 * CLI once so command tests run the same compiled code users run.
 */
export default async function setup(): Promise<void> {
  const dbUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const client = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.end()
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${dbUrl} (${(error as Error).message}). Start it: pg_ctlcluster 15 main start`,
    )
  }
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    throw new Error(
      `Redis is not reachable (${(error as Error).message}). Start it: redis-server --daemonize yes`,
    )
  } finally {
    redis.disconnect()
  }
  // Type errors do not block the emit (CI type-checks separately); a failed build still shows here.
  // Its output shows only when it fails: a passing run prints the summary only.
  const build = spawnSync('npm', ['run', '--silent', 'build'], { encoding: 'utf8' })
  if (build.status !== 0)
    console.warn(
      `${build.stdout}${build.stderr}\nglobal-setup: \`npm run build\` reported errors; CLI tests run the emitted code`,
    )
}
