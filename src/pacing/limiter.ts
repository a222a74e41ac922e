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
  /**
   * One per refused task (the rest of the batch, in order): ms from now until it should come
   * back, i.e. the limiter's next free slots not already promised to earlier deferrals, capped
   * at the deferral horizon. The dialer re-queues each task with this delay (deferral, not
   * failure: it spends no receive of the task).
   */
  deferDelaysMs: number[]
}

/**
 * How the tasks asking stand in the deferral line (admit-script.ts). Without options: as claimants
 * whose refusals are promised slots, the limiter's behaviour before the line had rules.
 */
export interface AdmitOptions {
  /**
   * false: the tasks ask for the first time and may not take slots promised to deferred tasks
   * (no overtaking); true (default): they are back for a promised slot and take the next free one.
   */
  claim?: boolean
  /** true (default): refused tasks will be deferred to their promised slots; false: they will not */
  promise?: boolean
  /**
   * No slot sooner than this many ms from now. The resilient limiter passes it when Redis answers
   * again while slots it granted locally (degraded mode) still lie ahead, so the shared line
   * resumes after the local one instead of beside it (src/pacing/degraded.ts).
   */
  notBeforeMs?: number
}

export interface AdmissionLimiter {
  /** admits up to `n` tasks against `limit` calls per second */
  admit(n: number, limit: number, options?: AdmitOptions): Promise<Admission>
}

export interface RedisLimiterOptions {
  redis: Redis
  prefix?: string
  /** how far ahead a slot may be granted; the dialer waits until it. Default 1000 ms. */
  horizonMs?: number
  /** seconds the pacer hash outlives the last call. Default 3600. */
  ttlSeconds?: number
  /**
   * How far ahead a deferred task may be promised a slot. Default 30 s: a backlog far beyond
   * the limit is re-asked every 30 s (cheap), and a raised limit reaches it within 30 s.
   * At most 900 s (SQS DelaySeconds).
   */
  deferHorizonMs?: number
}

export const DEFAULT_DEFER_HORIZON_MS = 30_000

/** Deferral delays of `count` refused tasks: the j-th at min(start + j × interval, horizon). */
export function deferDelaysMs(
  count: number,
  startOffsetMicros: number,
  intervalMicros: number,
  horizonMs: number,
): number[] {
  return Array.from({ length: count }, (_, j) =>
    Math.min(Math.max(0, startOffsetMicros + j * intervalMicros) / 1000, horizonMs),
  )
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
  deferHorizonMicros: number,
  claim: '0' | '1',
  promise: '0' | '1',
  notBeforeMicros: number,
) => Promise<unknown>

const ScriptReply = z.tuple([
  z.number(),
  z.number(),
  z.number(),
  z.number(),
  z.number(),
  z.number(),
  z.number(),
])

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
  const deferHorizonMs = Math.min(options.deferHorizonMs ?? DEFAULT_DEFER_HORIZON_MS, 900_000)
  const admit = defineAdmitCommand(options.redis)
  return {
    async admit(n, limit, opts) {
      assertBatchSize(n)
      assertLimit(limit)
      const reply = ScriptReply.parse(
        await admit(
          key,
          limit,
          n,
          horizonMicros,
          HISTORY_BUCKETS,
          ttl,
          deferHorizonMs * 1000,
          opts?.claim === false ? '0' : '1',
          opts?.promise === false ? '0' : '1',
          Math.max(0, Math.round((opts?.notBeforeMs ?? 0) * 1000)),
        ),
      )
      const [nowSec, nowMicros, k, firstOffsetMicros, intervalMicros, admittedThisSecond, deferOffset] = reply
      const now = nowSec * 1_000_000 + nowMicros
      const decision = { admitted: k, firstOffsetMicros, intervalMicros }
      return {
        mode: 'redis',
        limit,
        delaysMs: slotDelaysMs(decision),
        admittedThisSecond,
        slotsMicros: Array.from({ length: k }, (_, i) => now + firstOffsetMicros + i * intervalMicros),
        deferDelaysMs: deferDelaysMs(n - k, deferOffset, intervalMicros, deferHorizonMs),
      }
    },
  }
}
