import type { Redis } from 'ioredis'
import { HISTORY_BUCKETS, pacingKeys } from './keys.js'

export interface CpsSecond {
  /** unix second (Redis clock) */
  second: number
  /** tasks given a dial slot in that second, by every dialer */
  admitted: number
  /** tasks refused in that second (returned to the queue for a retry) */
  rateLimited: number
}

export interface CpsHistory {
  /** oldest first; the last entry is the current, still filling second */
  seconds: CpsSecond[]
  admitted: number
  rateLimited: number
  /** rateLimited / (admitted + rateLimited) over the period; 0 when idle */
  rateLimitedShare: number
}

/**
 * Per-second admitted and rate-limited counts for the last `seconds` seconds (at most
 * HISTORY_BUCKETS - 2), read from the limiter's own ring buffer: one HGETALL, no scan.
 */
export async function readCpsHistory(
  redis: Redis,
  seconds = 60,
  options: { prefix?: string } = {},
): Promise<CpsHistory> {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > HISTORY_BUCKETS - 2)
    throw new Error(`seconds must be a whole number from 1 to ${HISTORY_BUCKETS - 2} (got ${seconds})`)
  const key = pacingKeys(options.prefix).pacer
  const results = await redis.pipeline().time().hgetall(key).exec()
  if (!results) throw new Error('Redis returned no reply for the CPS history')
  for (const [error] of results) if (error) throw error
  const [sec] = results[0]![1] as [string, string]
  const hash = results[1]![1] as Record<string, string>
  const now = Number(sec)
  const out: CpsSecond[] = []
  for (let second = now - seconds + 1; second <= now; second++) {
    const i = second % HISTORY_BUCKETS
    const held = Number(hash[`s${i}`] ?? -1) === second
    out.push({
      second,
      admitted: held ? Number(hash[`a${i}`] ?? 0) : 0,
      rateLimited: held ? Number(hash[`r${i}`] ?? 0) : 0,
    })
  }
  const admitted = out.reduce((s, x) => s + x.admitted, 0)
  const rateLimited = out.reduce((s, x) => s + x.rateLimited, 0)
  const total = admitted + rateLimited
  return { seconds: out, admitted, rateLimited, rateLimitedShare: total === 0 ? 0 : rateLimited / total }
}

/** Stores the last degraded period a dialer lived through (kept an hour), for `dialctl cps get`. */
export async function recordDegradedPeriod(
  redis: Redis,
  period: { from: string; to: string },
  options: { prefix?: string } = {},
): Promise<void> {
  await redis.set(pacingKeys(options.prefix).degraded, JSON.stringify(period), 'EX', 3600)
}

/** The last degraded period reported within the hour, or null. */
export async function readLastDegraded(
  redis: Redis,
  options: { prefix?: string } = {},
): Promise<{ from: Date; to: Date } | null> {
  const raw = await redis.get(pacingKeys(options.prefix).degraded)
  if (!raw) return null
  try {
    const p = JSON.parse(raw) as { from: string; to: string }
    const from = new Date(p.from)
    const to = new Date(p.to)
    return Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) ? null : { from, to }
  } catch {
    return null
  }
}
