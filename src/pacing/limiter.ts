import type { Redis } from 'ioredis'
import { z } from 'zod'
import { ADMIT_LUA } from './admit-script.js'
import { slotDelaysMs } from './gcra.js'
import { HISTORY_BUCKETS, pacingKeys } from './keys.js'

/** What one admission decision tells the dialer. */
export interface Admission {
  /** tasks admitted: the first `delaysMs.length` of the batch */
  delaysMs: number[]
  /** 'redis' = the shared exact limiter; 'degraded' = the in-process fallback */
  mode: 'redis' | 'degraded'
  /** the limit this decision applied */
  limit: number
  /** slots of every dialer in the current second (only known in redis mode) */
  admittedThisSecond?: number
  /**
   * Absolute slot times in µs on the Redis clock (redis mode only). The dialer uses the delays;
   * tests and the bench use these to check windows exactly.
   */
  slotsMicros?: number[]
}

export interface AdmissionLimiter {
  /** admits up to `n` tasks against `limit` calls per second */
  admit(n: number, limit: number): Promise<Admission>
}

export interface RedisLimiterOptions {
  redis: Redis
  prefix?: string
  /** how far ahead a slot may be granted; the dialer waits until it. Default 1000 ms. */
  horizonMs?: number
  /** seconds the pacer hash outlives the last call. Default 3600. */
  ttlSeconds?: number
}

const COMMAND = 'dialctlAdmit'

/** The Lua source (inlined in src/pacing/admit-script.ts so a single-file bundle carries it). */
export function admitScript(): string {
  return ADMIT_LUA
}

type AdmitCommand = (
  key: string,
  limit: number,
  n: number,
  horizonMicros: number,
  buckets: number,
  ttl: number,
) => Promise<unknown>

const ScriptReply = z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()])

/** Registers the script on the client once (EVALSHA, falling back to EVAL after a SCRIPT FLUSH). */
export function defineAdmitCommand(redis: Redis): AdmitCommand {
  const r = redis as unknown as Record<string, AdmitCommand | undefined>
  if (typeof r[COMMAND] !== 'function') redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: admitScript() })
  const command = r[COMMAND]!
  return command.bind(redis)
}

export function assertBatchSize(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`admit: n must be an integer >= 0 (got ${n})`)
}

export function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`admit: limit must be an integer >= 1 (got ${limit}); check cps:limit / MAX_CPS`)
}

/** The shared, exact limiter: one atomic script call per batch. */
export function createRedisLimiter(options: RedisLimiterOptions): AdmissionLimiter {
  const key = pacingKeys(options.prefix).pacer
  const horizonMicros = Math.round((options.horizonMs ?? 1000) * 1000)
  const ttl = options.ttlSeconds ?? 3600
  const admit = defineAdmitCommand(options.redis)
  return {
    async admit(n, limit) {
      assertBatchSize(n)
      assertLimit(limit)
      const reply = ScriptReply.parse(await admit(key, limit, n, horizonMicros, HISTORY_BUCKETS, ttl))
      const [nowSec, nowMicros, k, firstOffsetMicros, intervalMicros, admittedThisSecond] = reply
      const now = nowSec * 1_000_000 + nowMicros
      const decision = { admitted: k, firstOffsetMicros, intervalMicros }
      return {
        mode: 'redis',
        limit,
        delaysMs: slotDelaysMs(decision),
        admittedThisSecond,
        slotsMicros: Array.from({ length: k }, (_, i) => now + firstOffsetMicros + i * intervalMicros),
      }
    },
  }
}
