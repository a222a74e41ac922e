/**
 * Limiter decisions/s, p50/p99 latency and the worst 1000 ms window of admissions at 200
 * concurrent callers, limit 100: our slot-scheduling script, the seed's GET-then-INCR,
 * rate-limiter-flexible's RateLimiterRedis, and a trivial EVALSHA (the physical bound of one
 * script round trip). Each candidate runs RUNS times for RUN_MS; figures are median (min, max).
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { fmt, percentile, stats, type BenchSection, type Stats } from './types.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const CALLERS = 200
const LIMIT = 100
const RUN_MS = 2000
const RUNS = 3

/** One decision: how many admitted, and (for our limiter) their slot times on the Redis clock in ms. */
type Decide = () => Promise<{ admitted: boolean; slotMs?: number }>

interface Candidate {
  name: string
  /** fresh state per run (own key prefix) */
  make(redis: Redis, prefix: string): Decide
  /** whether admissions are meaningful (the trivial script admits nothing) */
  admits: boolean
}

/**
 * The seed's algorithm, copied verbatim from "Rate Limiting Algorithm" except the key prefix (so
 * runs do not share keys) and the ts-expect-error the seed's `string >= number` needs in TS.
 */
function seedCheckAndIncrement(redis: Redis, prefix: string, MAX_CPS: number) {
  return async function checkAndIncrementCPS(): Promise<boolean> {
    const currentSecond = Math.floor(Date.now() / 1000)
    const key = `${prefix}cps:${currentSecond}`

    // Get current count
    const count = (await redis.get(key)) || 0

    // Check limit
    // @ts-expect-error the seed compares the string reply with a number (JS coerces it)
    if (count >= MAX_CPS) {
      return false // Rate limit exceeded
    }

    // Increment with TTL
    await redis.multi().incr(key).expire(key, 1).exec()

    return true // OK to proceed
  }
}

const candidates: Candidate[] = [
  {
    name: 'dialctl admit-1.lua (slot scheduling)',
    admits: true,
    make(redis, prefix) {
      const limiter = createRedisLimiter({ redis, prefix })
      return async () => {
        const a = await limiter.admit(1, LIMIT)
        return a.slotsMicros!.length
          ? { admitted: true, slotMs: a.slotsMicros![0]! / 1000 }
          : { admitted: false }
      }
    },
  },
  {
    name: "seed's GET-then-INCR",
    admits: true,
    make(redis, prefix) {
      const check = seedCheckAndIncrement(redis, prefix, LIMIT)
      return async () => ({ admitted: await check() })
    },
  },
  {
    name: 'rate-limiter-flexible RateLimiterRedis',
    admits: true,
    make(redis, prefix) {
      const rl = new RateLimiterRedis({
        storeClient: redis,
        points: LIMIT,
        duration: 1,
        keyPrefix: `${prefix}rlf`,
      })
      return async () => {
        try {
          await rl.consume('dialer', 1)
          return { admitted: true }
        } catch (error) {
          if (error instanceof Error) throw error
          return { admitted: false }
        }
      }
    },
  },
  {
    name: 'trivial EVALSHA (physical bound)',
    admits: false,
    make(redis) {
      redis.defineCommand('benchNoop', { numberOfKeys: 0, lua: 'return 1' })
      const noop = (redis as unknown as { benchNoop: () => Promise<number> }).benchNoop.bind(redis)
      return async () => {
        await noop()
        return { admitted: false }
      }
    },
  },
]

function worstWindow(timesMs: number[]): number {
  const s = [...timesMs].sort((a, b) => a - b)
  let worst = 0
  for (let lo = 0, hi = 0; hi < s.length; hi++) {
    while (s[hi]! - s[lo]! >= 1000) lo++
    worst = Math.max(worst, hi - lo + 1)
  }
  return worst
}

function admissionsWithin(timesMs: number[], spanMs: number): number {
  if (timesMs.length === 0) return 0
  const first = Math.min(...timesMs)
  return timesMs.filter((t) => t < first + spanMs).length
}

interface RunResult {
  decisionsPerSec: number
  p50: number
  p99: number
  admittedPerSec: number
  worst: number
}

async function runOnce(candidate: Candidate): Promise<RunResult> {
  const redis = new Redis(REDIS_URL)
  const prefix = `bench:limiter:${randomBytes(4).toString('hex')}:`
  const decide = candidate.make(redis, prefix)
  const latencies: number[] = []
  const admissions: number[] = []
  const started = performance.now()
  const until = started + RUN_MS
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now()
        const r = await decide()
        const t1 = performance.now()
        latencies.push(t1 - t0)
        // our limiter: when the task may dial (its slot); the others: when they said yes
        if (r.admitted) admissions.push(r.slotMs ?? performance.timeOrigin + t1)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length) await redis.del(...keys)
  redis.disconnect()
  return {
    decisionsPerSec: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    // Dial rate: admissions in the RUN_MS after the first one. Our limiter grants slots up to
    // 1 s ahead, so counting what it granted during the run would overstate its rate.
    admittedPerSec: admissionsWithin(admissions, RUN_MS) / (RUN_MS / 1000),
    worst: worstWindow(admissions),
  }
}

export async function run(): Promise<BenchSection> {
  // Round robin, so a burst of load from elsewhere on the machine does not hit one candidate only.
  const results = new Map<Candidate, RunResult[]>(candidates.map((c) => [c, []]))
  for (let i = 0; i < RUNS; i++) for (const c of candidates) results.get(c)!.push(await runOnce(c))
  const rows: { name: string; admits: boolean; s: Record<keyof RunResult, Stats> }[] = []
  for (const c of candidates) {
    const runs = results.get(c)!
    const pick = (k: keyof RunResult) => stats(runs.map((r) => r[k]))
    rows.push({
      name: c.name,
      admits: c.admits,
      s: {
        decisionsPerSec: pick('decisionsPerSec'),
        p50: pick('p50'),
        p99: pick('p99'),
        admittedPerSec: pick('admittedPerSec'),
        worst: pick('worst'),
      },
    })
  }
  const markdown = [
    `${CALLERS} concurrent callers on one ioredis connection, limit ${LIMIT} CPS, one task per decision, ` +
      `${RUNS} runs of ${RUN_MS / 1000} s each; median (min, max). "Worst window" is the most admissions in any ` +
      `[t, t + 1000 ms): for our limiter over the granted dial slots (Redis clock), for the others over the ` +
      `moments they said yes. Anything above ${LIMIT} breaks the limit. Dial rate: admissions in the ` +
      `${RUN_MS / 1000} s after the first one.`,
    '',
    '| limiter | decisions/s | p50 ms | p99 ms | dial rate (admitted/s) | worst 1000 ms window |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.s.decisionsPerSec)} | ${fmt(r.s.p50, 2)} | ${fmt(r.s.p99, 2)} | ` +
        (r.admits ? `${fmt(r.s.admittedPerSec, 1)} | ${fmt(r.s.worst)} |` : 'n/a | n/a |'),
    ),
  ].join('\n')
  return {
    title: 'CPS limiter',
    markdown,
    json: { callers: CALLERS, limit: LIMIT, runMs: RUN_MS, runs: RUNS, results: rows },
  }
}
