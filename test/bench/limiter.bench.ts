/**
 * Limiter decisions/s, p50/p99 latency and the worst 1000 ms window of admissions at 200
 * concurrent callers, limit 100: our slot-scheduling script, the seed's GET-then-INCR,
 * rate-limiter-flexible's RateLimiterRedis, and a trivial EVALSHA through the same client (one
 * client's ceiling). Anchors from redis-benchmark in the same rounds: a pipelined trivial EVALSHA
 * (Redis's ceiling) and our script pipelined (its server-side cost), so the report says which one
 * bounds the limiter. Each candidate runs RUNS times for RUN_MS; figures are median (min, max).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { HISTORY_BUCKETS } from '../../src/pacing/keys.js'
import { admitScript, createRedisLimiter } from '../../src/pacing/limiter.js'
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
    name: 'trivial EVALSHA through ioredis (one client ceiling)',
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

const SERVER_REQUESTS = 100_000
const PIPELINE = 16

/**
 * What Redis itself does, without a Node client in the way: redis-benchmark (ships with
 * redis-server) sending EVALSHA pipelined 16 deep on 50 connections. `trivial` is a script that
 * returns 1 (Redis's ceiling for any one-script-call decision); `ours` is our admit script with the
 * bench's arguments (limit 100, horizon 1 s: mostly refusals, as at 200 callers), i.e. our script's
 * server-side cost. Requests/s, one measurement each.
 */
async function serverRates(): Promise<{ trivial: number; ours: number }> {
  const url = new URL(REDIS_URL)
  const redis = new Redis(REDIS_URL)
  const prefix = `bench:limiter:${randomBytes(4).toString('hex')}:`
  try {
    const trivialSha = (await redis.script('LOAD', 'return 1')) as string
    const oursSha = (await redis.script('LOAD', admitScript())) as string
    const bench = async (...command: string[]) => {
      const { stdout } = await promisify(execFile)('redis-benchmark', [
        ...['-h', url.hostname, '-p', url.port || '6379', '-n', String(SERVER_REQUESTS)],
        ...['-P', String(PIPELINE), '--csv'],
        ...command,
      ])
      // "test","rps",… then one row per test: the rps column
      const row = stdout.trim().split('\n').at(-1)!
      const rps = Number(JSON.parse(`[${row}]`)[1])
      if (!Number.isFinite(rps)) throw new Error(`redis-benchmark: unexpected output ${stdout.slice(0, 200)}`)
      return rps
    }
    const trivial = await bench('EVALSHA', trivialSha, '0')
    const ours = await bench(
      ...['EVALSHA', oursSha, '1', `${prefix}pacer`],
      ...[String(LIMIT), '1', '1000000', String(HISTORY_BUCKETS), '60'],
    )
    return { trivial, ours }
  } finally {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
  }
}

export async function run(): Promise<BenchSection> {
  // Round robin, so a burst of load from elsewhere on the machine does not hit one candidate only.
  const results = new Map<Candidate, RunResult[]>(candidates.map((c) => [c, []]))
  const server: { trivial: number[]; ours: number[] } = { trivial: [], ours: [] }
  for (let i = 0; i < RUNS; i++) {
    for (const c of candidates) results.get(c)!.push(await runOnce(c))
    const r = await serverRates()
    server.trivial.push(r.trivial)
    server.ours.push(r.ours)
  }
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
  const trivial = stats(server.trivial)
  const ours = stats(server.ours)
  const client = rows[0]!.s.decisionsPerSec
  const nodeTrivial = rows.find((r) => !r.admits)!.s.decisionsPerSec
  // The bound is whichever ceiling our client-side rate is closest to.
  const bound =
    client.median >= 0.8 * ours.median
      ? `Redis running our script (${((client.median / ours.median) * 100).toFixed(0)}% of its server-side rate)`
      : `the Node client (${((client.median / ours.median) * 100).toFixed(0)}% of the script's server-side rate, ` +
        `${((nodeTrivial.median / trivial.median) * 100).toFixed(0)}% for a trivial script)`
  const serverMarkdown = [
    '',
    `Anchors, measured in the same rounds: \`redis-benchmark -P ${PIPELINE}\` (50 connections, ` +
      `${SERVER_REQUESTS.toLocaleString('en-US')} requests, no Node client in the way), requests/s:`,
    '',
    '| anchor | requests/s | our admit script through ioredis, as a share |',
    '|---|---|---|',
    `| trivial EVALSHA (\`return 1\`), pipelined: Redis's ceiling for one script call | ${fmt(trivial)} | ${(client.median / trivial.median).toFixed(2)} |`,
    `| our admit script, pipelined: its server-side cost | ${fmt(ours)} | ${(client.median / ours.median).toFixed(2)} |`,
    '',
    `The bound on our limiter's decisions/s here: ${bound}.`,
  ].join('\n')
  return {
    title: 'CPS limiter',
    markdown: markdown + '\n' + serverMarkdown,
    json: {
      callers: CALLERS,
      limit: LIMIT,
      runMs: RUN_MS,
      runs: RUNS,
      results: rows,
      redisBenchmark: { pipeline: PIPELINE, trivialEvalsha: trivial, ourScript: ours },
      bound,
    },
    summary: [
      `Limiter at ${CALLERS} callers, limit ${LIMIT}: ` +
        rows
          .map((r) =>
            r.admits
              ? `${r.name} ${fmt(r.s.decisionsPerSec)} decisions/s, worst 1000 ms window ${r.s.worst.max}`
              : `${r.name} ${fmt(r.s.decisionsPerSec)} calls/s`,
          )
          .join('; ') +
        `. Redis alone (redis-benchmark, pipelined): trivial EVALSHA ${fmt(trivial)}/s, our script ${fmt(ours)}/s. ` +
        `Bound: ${bound}.`,
    ],
  }
}
