/**
 * The one place a PostgreSQL pool is made (CLI, local stack, worker, Lambdas). Connection settings
 * come as parts (`PgSettings`) — never a URL spliced from a generated password (issue #13 item 2);
 * DATABASE_URL is parsed only for the local stage.
 *
 * Every wait is bounded and no store failure crashes the process (issue #15):
 * - connect (TCP + startup up to ReadyForQuery) is bounded by `connectTimeoutMs`, so a server that
 *   accepts TCP and never answers fails in time;
 * - every query by `queryTimeoutMs` (client-side: a frozen server mid-session does not hang us);
 * - `pool.on('error')` only covers idle clients; a client that loses its connection while checked
 *   out emits `error` with no listener → "Unhandled 'error' event" kills the process
 *   (brianc/node-postgres#1927, #2439). Every client gets a listener from its first connect for the
 *   whole of its life, checkouts included; its pending query rejects, and pg-pool discards the
 *   broken client on release.
 */
import pg from 'pg'
import { bestEffort } from '../errors.js'
import { beginWith } from './begin-with.js'

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test'

/** Where a PostgreSQL is and how to log in. `ssl: true` verifies the server certificate. */
export interface PgSettings {
  host: string
  port: number
  user: string
  password?: string
  database: string
  ssl: boolean
}

export interface PoolOptions {
  /** local-stage URL; ignored when `settings` is given */
  connectionString?: string
  settings?: PgSettings
  /** search_path schema; tests give each run its own */
  schema?: string
  max?: number
  /** TCP connect + startup, ms (default 5000) */
  connectTimeoutMs?: number
  /** any one query, ms (default 30000) */
  queryTimeoutMs?: number
  /**
   * After a failed connect, fail every checkout at once with that error for this long (ms) instead
   * of waiting out the connect bound again: for the CLI, whose commands run several queries in
   * sequence and promise an answer within seconds. Unset: every checkout tries (services).
   */
  failFastMs?: number
}

export function databaseUrl(): string {
  return process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
}

/**
 * Parses `postgres://user[:password]@host[:port]/database[?sslmode=require]` into settings (user
 * and password percent-decoded). For the local stage's DATABASE_URL; throws an Error naming
 * `source` when the URL cannot be read.
 */
export function parseDatabaseUrl(url: string, source = 'DATABASE_URL'): PgSettings {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(
      `${source} is not a valid URL (a password with # / @ % : must be percent-encoded, or set PGHOST, PGUSER, PGPASSWORD, PGDATABASE instead)`,
    )
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new Error(`${source} must start with postgres://, not ${parsed.protocol}//`)
  const sslmode =
    parsed.searchParams.get('sslmode') ?? (parsed.searchParams.get('ssl') === 'true' ? 'require' : '')
  const settings: PgSettings = {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 5432,
    user: parsed.username ? decode(parsed.username, source) : 'postgres',
    database: parsed.pathname.length > 1 ? decode(parsed.pathname.slice(1), source) : 'postgres',
    ssl: ['require', 'verify-ca', 'verify-full'].includes(sslmode),
  }
  if (parsed.password) settings.password = decode(parsed.password, source)
  return settings
}

function decode(part: string, source: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new Error(
      `${source} holds a credential with a bare "%"; percent-encode it or give the parts instead`,
    )
  }
}

/**
 * PostgreSQL settings from the environment: PGHOST (+ PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
 * PGSSL=true|1) wins — the parts an SST stage links; else DATABASE_URL (local stage); else the
 * default local server. Throws an Error naming the variable on bad input.
 */
export function pgSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): PgSettings {
  if (env.PGHOST) {
    const port = env.PGPORT ? Number(env.PGPORT) : 5432
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw new Error(`PGPORT must be a port number, got "${env.PGPORT}"`)
    const settings: PgSettings = {
      host: env.PGHOST,
      port,
      user: env.PGUSER ?? 'postgres',
      database: env.PGDATABASE ?? 'postgres',
      ssl: /^(1|true|yes|require)$/i.test(env.PGSSL ?? env.PGSSLMODE ?? ''),
    }
    if (env.PGPASSWORD) settings.password = env.PGPASSWORD
    return settings
  }
  return parseDatabaseUrl(
    env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    env.DATABASE_URL ? 'DATABASE_URL' : 'the default database URL',
  )
}

/** `postgres://user@host:port/database` with no password: safe for logs and error messages. */
export function describePg(settings: PgSettings): string {
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host
  return `postgres://${encodeURIComponent(settings.user)}@${host}:${settings.port}/${settings.database}`
}

function isPgSettings(value: unknown): value is PgSettings {
  return typeof value === 'object' && value !== null && 'host' in value && 'database' in value
}

/** Resolves what `createPool` was given to settings (exported for diagnostics that name the store). */
export function resolvePgSettings(target?: PgSettings | string | PoolOptions): PgSettings {
  if (typeof target === 'string') return parseDatabaseUrl(target)
  if (isPgSettings(target)) return target
  if (target?.settings) return target.settings
  if (target?.connectionString) return parseDatabaseUrl(target.connectionString)
  return pgSettingsFromEnv()
}

/**
 * A pg pool (max 10 by default, as the seed sizes the enrich Lambda's pool) whose connections use
 * `schema` as their search_path. Give it settings, a local-stage URL, or options (settings from
 * the environment by default). Created once per process and reused across invocations.
 */
export function createPool(target: PgSettings | string | PoolOptions = {}, extra: PoolOptions = {}): pg.Pool {
  const options: PoolOptions =
    typeof target === 'object' && !isPgSettings(target) ? { ...target, ...extra } : extra
  const settings = resolvePgSettings(target)
  const schema = options.schema ?? process.env.DATABASE_SCHEMA
  const queryTimeout = options.queryTimeoutMs ?? 30_000
  const pool = new pg.Pool({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    database: settings.database,
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.ssl ? { ssl: { rejectUnauthorized: true, servername: settings.host } } : {}),
    max: options.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: queryTimeout,
    // TCP keep-alive: a half-open path (NAT dropped the flow) is noticed instead of waited on.
    keepAlive: true,
    ...(schema ? { options: `-c search_path=${quoteIdent(schema)}` } : {}),
  })
  // An idle client losing its connection (PostgreSQL restart) must not crash the process;
  // the next query gets a fresh connection.
  pool.on('error', () => {})
  // ...and neither must a checked-out one (see the module comment): its active query rejects with
  // the error, which is where the caller learns of it.
  pool.on('connect', (client) => {
    client.on('error', () => {})
  })
  if (options.failFastMs) failFast(pool, options.failFastMs)
  return pool
}

type ConnectCallback = (error: Error | undefined, client?: pg.PoolClient, done?: () => void) => void

/**
 * See PoolOptions.failFastMs. Until the pool has connected once, checkouts wait for the first
 * attempt instead of each opening (and waiting out) a connection of its own, so a command's
 * parallel queries share one bound. pg-pool's `query` checks out through `this.connect`, so both go
 * through here.
 */
function failFast(pool: pg.Pool, ms: number): void {
  let downUntil = 0
  let lastError: Error | undefined
  let healthy = false
  let gate: Promise<void> | undefined
  const original = pool.connect.bind(pool) as () => Promise<pg.PoolClient>
  const note = (error: Error) => {
    downUntil = Date.now() + ms
    lastError = error
    throw error
  }
  const checkout = (): Promise<pg.PoolClient> => {
    if (lastError && Date.now() < downUntil) return Promise.reject(lastError)
    if (healthy) return original().catch(note)
    if (gate) return gate.then(checkout)
    const first = original().catch(note)
    gate = first.then(
      () => {
        healthy = true
      },
      () => {},
    )
    void gate.finally(() => (gate = undefined))
    return first
  }
  ;(pool as unknown as { connect: (cb?: ConnectCallback) => unknown }).connect = (cb?: ConnectCallback) => {
    if (!cb) return checkout()
    checkout().then(
      (client) => cb(undefined, client, () => client.release()),
      (error: Error) => cb(error),
    )
    return undefined
  }
}

export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}

export type Db = pg.Pool | pg.PoolClient

/** How a transaction opens: a plain BEGIN, or BEGIN with the first statement (beginWith). */
type Begin<F> = (client: pg.PoolClient) => Promise<F>
const plainBegin: Begin<void> = async (client) => {
  await client.query('BEGIN')
}

/**
 * Runs `fn` in a transaction on one pooled client. A failure anywhere (including a connection
 * dropped between statements) rejects with that error after a best-effort ROLLBACK; the client is
 * released, and destroyed rather than reused when the failure may have left it unusable.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return transactionOnPool(pool, plainBegin, fn)
}

async function transactionOnPool<F, T>(
  pool: pg.Pool,
  begin: Begin<F>,
  fn: (client: pg.PoolClient, first: F) => Promise<T>,
): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    const result = await fn(client, await begin(client))
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError
    })
    throw error
  } finally {
    client.release(broken)
  }
}

/**
 * `withTransaction` for code that takes a `Db`: on a pool, withTransaction; on a client the
 * caller already holds, a transaction on that client, which stays the caller's to release.
 */
export async function inTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transactionOn(db, plainBegin, fn)
}

/**
 * `inTransaction` whose BEGIN travels with its first statement (`first`, which takes parameters):
 * one round trip and one socket write fewer (src/db/begin-with.ts). `fn` gets the client and the
 * first statement's result.
 */
export async function inTransactionFrom<R extends pg.QueryResultRow, T>(
  db: Db,
  first: { text: string; values: readonly unknown[] },
  fn: (client: pg.PoolClient, first: pg.QueryResult<R>) => Promise<T>,
): Promise<T> {
  return transactionOn(db, (client) => beginWith<R>(client, first.text, first.values), fn)
}

async function transactionOn<F, T>(
  db: Db,
  begin: Begin<F>,
  fn: (client: pg.PoolClient, first: F) => Promise<T>,
): Promise<T> {
  if (!('release' in db && typeof db.release === 'function'))
    return transactionOnPool(db as pg.Pool, begin, fn)
  const client = db as pg.PoolClient
  try {
    const result = await fn(client, await begin(client))
    await client.query('COMMIT')
    return result
  } catch (error) {
    await bestEffort(
      client.query('ROLLBACK'),
      'the original error is rethrown; a connection that cannot roll back is the caller’s to drop',
    )
    throw error
  }
}
