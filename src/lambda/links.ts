import { Resource } from 'sst'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { pgSettingsFromEnv, type PgSettings } from '../db/pool.js'
import { redisSettingsFromEnv, type RedisSettings } from '../stores/redis.js'

/**
 * What a Lambda learns from its SST links (`link: [...]` in stacks/functions.ts, read with
 * `Resource.X`): store endpoints and credentials as parts, and secrets — never a URL spliced from
 * a generated password (SST's Redis auth token alphabet includes `#`, which breaks URL parsing)
 * and never a secret in a plain environment variable (readable with GetFunctionConfiguration).
 *
 * Without a link (the local stack, in-process tests) the same readers fall back to the local
 * stage's variables: REDIS_URL / DATABASE_URL (or their parts), WORKER_TOKEN.
 */

/** sst.aws.Redis's link properties */
const RedisLink = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive(),
  username: z.string().optional(),
  password: z.string().optional(),
})
/** sst.aws.Postgres's link properties (the proxy's endpoint when `proxy: true`) */
const PostgresLink = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive(),
  username: z.string().min(1),
  password: z.string(),
  database: z.string().min(1),
})
const SecretLink = z.object({ value: z.string() })

/** Link names, as the stack declares them (stacks/data.ts, stacks/secrets.ts). */
export const LINK = { redis: 'Redis', postgres: 'Postgres', workerToken: 'WorkerToken' } as const

function linked<T>(name: string, schema: z.ZodType<T>): T | undefined {
  const all = Resource as unknown as Record<string, unknown>
  if (!(name in all)) return undefined
  const parsed = schema.safeParse(all[name])
  if (!parsed.success)
    throw new Error(
      `link ${name} is not what the stack links (${describeZodError(parsed.error)}); redeploy the stage`,
    )
  return parsed.data
}

/**
 * TLS to the stores: on for linked stores (ElastiCache has in-transit encryption on; RDS Proxy
 * takes TLS), unless DIALCTL_STORES_TLS=false (a test against plain local servers).
 */
function storesTls(env: NodeJS.ProcessEnv): boolean {
  return !/^(0|false|no)$/i.test(env.DIALCTL_STORES_TLS ?? '')
}

/** The stage's Redis: the `Redis` link, else REDIS_HOST…/REDIS_URL (local stage), else undefined when `optional`. */
export function linkedRedis(env: NodeJS.ProcessEnv = process.env): RedisSettings {
  const link = linked(LINK.redis, RedisLink)
  if (!link) return redisSettingsFromEnv(env)
  return {
    host: link.host,
    port: link.port,
    tls: storesTls(env),
    ...(link.username ? { username: link.username } : {}),
    ...(link.password ? { password: link.password } : {}),
  }
}

/** Whether the function has a Redis at all (linked, or REDIS_HOST/REDIS_URL on the local stage). */
export function hasRedis(env: NodeJS.ProcessEnv = process.env): boolean {
  return linked(LINK.redis, RedisLink) !== undefined || Boolean(env.REDIS_HOST || env.REDIS_URL)
}

/** The stage's PostgreSQL: the `Postgres` link, else PGHOST…/DATABASE_URL (local stage). */
export function linkedPostgres(env: NodeJS.ProcessEnv = process.env): PgSettings {
  const link = linked(LINK.postgres, PostgresLink)
  if (!link) return pgSettingsFromEnv(env)
  return {
    host: link.host,
    port: link.port,
    user: link.username,
    database: link.database,
    ssl: storesTls(env),
    ...(link.password ? { password: link.password } : {}),
  }
}

/** The worker's bearer token: the `WorkerToken` secret link, else WORKER_TOKEN (local stage). */
export function linkedWorkerToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return linked(LINK.workerToken, SecretLink)?.value ?? env.WORKER_TOKEN
}

/** The stage name: DIALCTL_STAGE (set by the stack), else SST's `App` link, else "local". */
export function lambdaStage(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DIALCTL_STAGE) return env.DIALCTL_STAGE
  const app = linked('App', z.object({ stage: z.string().min(1) }))
  return app?.stage ?? 'local'
}
