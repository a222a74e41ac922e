/**
 * The one place a Redis client is made. Every process (CLI, local stack, worker, Lambdas) gets its
 * client here, from connection settings given as parts — never from a URL spliced together from a
 * generated password, whose alphabet may hold `#`, `/`, `@`, `%` or `:` (issue #13 item 2).
 *
 * Every wait is bounded (issue #15): ioredis's `connectTimeout` only covers the TCP handshake and is
 * cleared on `connect`; a server that accepts TCP and never answers (failover, half-open NAT path,
 * paused node) then stalls the ready check (INFO) and every queued command for ever. Hence a command
 * timeout, a socket timeout (no reply while commands are pending → the socket is destroyed and
 * ioredis reconnects) and our own ready-check timeout.
 */
import { Redis, type RedisOptions } from 'ioredis'

/** Where a Redis is and how to log in. `db` defaults to 0; `tls` is SST's/ElastiCache's default in AWS. */
export interface RedisSettings {
  host: string
  port: number
  username?: string
  password?: string
  tls: boolean
  db?: number
}

/**
 * Who uses the client; picks the timeouts and the offline behaviour.
 * - `cli`: an operator waits — fail within a few seconds, never reconnect for long.
 * - `dialer`: the dial path — a command fails at once while disconnected, so the limiter enters its
 *   degraded mode instead of queueing until the Lambda times out; reconnects in the background.
 * - `service`: background loops (dispatcher, pacer, worker) — bounded, reconnecting.
 * - `probe`: one reachability check, no retries.
 */
export type RedisRole = 'cli' | 'dialer' | 'service' | 'probe'

export interface RedisClientOptions {
  role: RedisRole
  /** overrides of the role's defaults, in ms */
  connectTimeoutMs?: number
  commandTimeoutMs?: number
  readyTimeoutMs?: number
  lazyConnect?: boolean
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

interface RoleDefaults {
  connectTimeoutMs: number
  commandTimeoutMs: number
  readyTimeoutMs: number
  offlineQueue: boolean
  lazyConnect: boolean
  retry: (times: number) => number | null
}

const ROLE_DEFAULTS: Record<RedisRole, RoleDefaults> = {
  // 2 s connect + 2 s command: a CLI command on a silent Redis answers well within 5 s.
  cli: {
    connectTimeoutMs: 2000,
    commandTimeoutMs: 2000,
    readyTimeoutMs: 2000,
    offlineQueue: true,
    lazyConnect: true,
    retry: (times) => (times > 1 ? null : 200),
  },
  // The dialer budget: a dial batch must not wait on Redis longer than the limiter's degraded
  // fallback is worth (src/pacing/degraded.ts).
  dialer: {
    connectTimeoutMs: 2000,
    commandTimeoutMs: 1000,
    readyTimeoutMs: 2000,
    offlineQueue: false,
    lazyConnect: false,
    retry: (times) => Math.min(times * 200, 2000),
  },
  service: {
    connectTimeoutMs: 3000,
    commandTimeoutMs: 2000,
    readyTimeoutMs: 3000,
    offlineQueue: false,
    lazyConnect: false,
    retry: (times) => Math.min(times * 200, 2000),
  },
  probe: {
    connectTimeoutMs: 2000,
    commandTimeoutMs: 2000,
    readyTimeoutMs: 2000,
    offlineQueue: true,
    lazyConnect: true,
    retry: () => null,
  },
}

/**
 * Parses a Redis URL (`redis://[user[:password]@]host[:port][/db]`, `rediss://` = TLS) into
 * settings; user and password are percent-decoded. For the local stage's REDIS_URL only: in AWS the
 * settings come as parts. Throws an Error naming `source` when the URL cannot be read.
 */
export function parseRedisUrl(url: string, source = 'REDIS_URL'): RedisSettings {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(
      `${source} is not a valid URL (a password with # / @ % : must be percent-encoded, or set REDIS_HOST, REDIS_PORT, REDIS_PASSWORD instead)`,
    )
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new Error(`${source} must start with redis:// or rediss://, not ${parsed.protocol}//`)
  const dbPart = parsed.pathname.replace(/^\//, '')
  const db = dbPart === '' ? undefined : Number(dbPart)
  if (db !== undefined && (!Number.isInteger(db) || db < 0))
    throw new Error(`${source} names database "${dbPart}"; it must be a number (0–15)`)
  const settings: RedisSettings = {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    tls: parsed.protocol === 'rediss:',
  }
  if (parsed.username) settings.username = decode(parsed.username, source)
  if (parsed.password) settings.password = decode(parsed.password, source)
  if (db !== undefined) settings.db = db
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
 * Redis settings from the environment: REDIS_HOST (+ REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD,
 * REDIS_TLS=true|1, REDIS_DB) wins — the parts an SST stage links; else REDIS_URL (local stage);
 * else `fallbackUrl` (default: the local server). Throws an Error naming the variable on bad input.
 */
export function redisSettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  fallbackUrl: string = DEFAULT_REDIS_URL,
): RedisSettings {
  if (env.REDIS_HOST) {
    const port = env.REDIS_PORT ? Number(env.REDIS_PORT) : 6379
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw new Error(`REDIS_PORT must be a port number, got "${env.REDIS_PORT}"`)
    const settings: RedisSettings = {
      host: env.REDIS_HOST,
      port,
      tls: /^(1|true|yes)$/i.test(env.REDIS_TLS ?? ''),
    }
    if (env.REDIS_USERNAME) settings.username = env.REDIS_USERNAME
    if (env.REDIS_PASSWORD) settings.password = env.REDIS_PASSWORD
    if (env.REDIS_DB) settings.db = Number(env.REDIS_DB)
    return settings
  }
  if (env.REDIS_URL) return parseRedisUrl(env.REDIS_URL, 'REDIS_URL')
  return parseRedisUrl(fallbackUrl, 'the default Redis URL')
}

/** `rediss://host:port/db` with no credentials: safe for logs and error messages. */
export function describeRedis(settings: RedisSettings): string {
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host
  return `${settings.tls ? 'rediss' : 'redis'}://${host}:${settings.port}${settings.db ? `/${settings.db}` : ''}`
}

/**
 * A Redis client for `role` with bounded connect, command and ready-check waits (ms, role defaults
 * above). Errors are not thrown as events: an `error` listener is attached (ioredis emits one per
 * reconnect attempt; callers report store health through their own paths — degraded mode, doctor).
 */
export function createRedisClient(settings: RedisSettings, options: RedisClientOptions): Redis {
  const d = ROLE_DEFAULTS[options.role]
  const connectTimeout = options.connectTimeoutMs ?? d.connectTimeoutMs
  const commandTimeout = options.commandTimeoutMs ?? d.commandTimeoutMs
  const readyTimeout = options.readyTimeoutMs ?? d.readyTimeoutMs
  const redisOptions: RedisOptions = {
    host: settings.host,
    port: settings.port,
    db: settings.db ?? 0,
    lazyConnect: options.lazyConnect ?? d.lazyConnect,
    connectTimeout,
    commandTimeout,
    // No byte back while commands are pending → the socket is destroyed and ioredis reconnects,
    // so a frozen server does not keep the client's queue for ever.
    socketTimeout: commandTimeout + readyTimeout,
    maxRetriesPerRequest: options.role === 'probe' ? 0 : 1,
    enableOfflineQueue: d.offlineQueue,
    retryStrategy: d.retry,
    // SETINFO is a nicety; on a silent server it only adds a wait before the ready check.
    disableClientInfo: true,
  }
  if (settings.username) redisOptions.username = settings.username
  if (settings.password) redisOptions.password = settings.password
  if (settings.tls) redisOptions.tls = { servername: settings.host }
  const redis = new Redis(redisOptions)
  redis.on('error', () => {})
  // ioredis clears connectTimeout once TCP connects; the ready check (INFO) then has no bound of its
  // own if the server never answers. Destroying the stream makes ioredis fail the pending commands
  // and reconnect by its retryStrategy.
  let readyTimer: NodeJS.Timeout | undefined
  redis.on('connect', () => {
    clearTimeout(readyTimer)
    readyTimer = setTimeout(() => {
      if (redis.status !== 'ready')
        redis.stream?.destroy(
          new Error(
            `Redis at ${describeRedis(settings)} accepted the connection but did not answer within ${readyTimeout} ms`,
          ),
        )
    }, readyTimeout)
    readyTimer.unref()
  })
  redis.on('ready', () => clearTimeout(readyTimer))
  redis.on('end', () => clearTimeout(readyTimer))
  return redis
}
