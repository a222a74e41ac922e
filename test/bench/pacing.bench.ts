/**
 * Pacing at the trunk (issue #12), on the Lambdas' own code path: the local queue (PgQueue, SQS
 * semantics) → LocalPipe (batch 10 / 5 s window, 5 pollers scaling to 20 with the backlog, as `dialctl dev`) →
 * the dialer handler (limiter, deferral, slot POSTs) → a stand-in worker that originates through
 * the real worker's trunk gate (src/pacing/slot-wait.ts), records the instant each call leaves and
 * answers then (as the real worker answers after its slot wait and claim). Real PostgreSQL and Redis,
 * own schema and key prefix.
 *
 * 1. At 5, 25, 50, 200 and 500 CPS with a backlog of 20 × the limit: achieved CPS ÷ limit (from the
 *    first dial to the last), run time ÷ ideal, worst 1000 ms window at the worker, refusals
 *    (deferrals), DLQ count. Goals: ≥ 0.98, ≤ 1.03, ≤ limit, 0. Before the highest limit, the
 *    capacity anchor: the same pipeline with no limit, so a shortfall at 500 CPS on this shared
 *    machine is shown against what the pipeline could do just then.
 * 2. The cut: 1,000 queued at 100 CPS, cut to 2 for 10 s, raised back to 100: DLQ, dialed once.
 * 3. Anchors in the same run, same pipeline at 25 CPS, the limiter swapped for the seed's
 *    GET-then-INCR and for rate-limiter-flexible (admit now or refuse; no slots): what the worker
 *    sees without slot scheduling.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type net from 'node:net'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import type { EnrichedDialTask } from '../../src/contracts/index.js'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { migrate } from '../../src/db/migrate.js'
import { createDialer } from '../../src/dialer/create-dialer.js'
import { deferralTiming } from '../../src/dialer/admission.js'
import { createRedisDialMarker } from '../../src/dialer/dial-marker.js'
import { createPgOutcomeRecorder, queueRequeue } from '../../src/dialer/ports.js'
import { createWorkerClient } from '../../src/dialer/worker-client.js'
import { createLogger } from '../../src/observability/logger.js'
import { recordDeadLetteredTasks } from '../../src/outcomes/dead-letter.js'
import { createResilientLimiter } from '../../src/pacing/degraded.js'
import { createLimitStore } from '../../src/pacing/limit-store.js'
import { createRedisLimiter, type AdmissionLimiter } from '../../src/pacing/limiter.js'
import { createTrunkGate } from '../../src/pacing/slot-wait.js'
import { LocalPipe } from '../../src/pipe/local-pipe.js'
import { ensureLocalQueues } from '../../src/queue/pg-queue.js'
import { DEFAULT_PIPE_MAX_POLLERS, DEFAULT_PIPE_POLLERS } from '../../local/stack.js'
import { enrichWith } from '../helpers/pacing.js'
import { lineChart } from './charts.js'
import { QUICK, type BenchSection } from './types.js'
import { deleteKeys } from '../helpers/redis.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
/** the pipe's batching window, as `dialctl dev` and the AWS pipe run it (BENCH_PACING_WINDOW to vary) */
const WINDOW_SECONDS = Number(process.env.BENCH_PACING_WINDOW ?? 5)
const LIMITS = process.env.BENCH_PACING_LIMITS
  ? process.env.BENCH_PACING_LIMITS.split(',').map(Number)
  : QUICK
    ? [5, 25]
    : [5, 25, 50, 200, 500]
/** pipe pollers (batches in flight) at the start and at most, as the local stack runs them */
const POLLERS = Number(process.env.BENCH_PACING_POLLERS ?? DEFAULT_PIPE_POLLERS)
const MAX_POLLERS = Number(process.env.BENCH_PACING_MAX_POLLERS ?? DEFAULT_PIPE_MAX_POLLERS)
const BACKLOG_FACTOR = 20
const silent = () => createLogger('bench', { level: 'SILENT' })

const campaign = {
  id: 'pace',
  name: 'Pacing bench',
  type: 'voice' as const,
  status: 'active' as const,
  config: {
    audioFileUrl: 'https://example.test/audio.mp3',
    ivrFlow: {
      startNodeId: 'n1',
      nodes: [{ id: 'n1', type: 'play_audio' as const, audioUrl: 'https://example.test/a.mp3' }],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 100_000,
    maxAttemptsPerContact: 3,
  },
  timezone: 'UTC',
}

function worstWindow(times: number[]): number {
  const s = [...times].sort((a, b) => a - b)
  let worst = 0
  for (let lo = 0, hi = 0; hi < s.length; hi++) {
    while (s[hi]! - s[lo]! >= 1000) lo++
    worst = Math.max(worst, hi - lo + 1)
  }
  return worst
}

/** The seed's GET-then-INCR as an AdmissionLimiter: each task admitted now or refused. */
function seedLimiter(redis: Redis, prefix: string): AdmissionLimiter {
  return {
    async admit(n, limit) {
      let k = 0
      for (let i = 0; i < n; i++) {
        const key = `${prefix}seed:${Math.floor(Date.now() / 1000)}`
        const count = Number((await redis.get(key)) ?? 0)
        if (count >= limit) break
        await redis.multi().incr(key).expire(key, 1).exec()
        k++
      }
      return { mode: 'redis', limit, delaysMs: Array(k).fill(0), deferDelaysMs: Array(n - k).fill(1000) }
    },
  }
}

function flexibleLimiter(redis: Redis, prefix: string, limit: number): AdmissionLimiter {
  const rl = new RateLimiterRedis({
    storeClient: redis,
    points: limit,
    duration: 1,
    keyPrefix: `${prefix}rlf`,
  })
  return {
    async admit(n) {
      let k = 0
      for (let i = 0; i < n; i++) {
        try {
          await rl.consume('dialer', 1)
          k++
        } catch (error) {
          if (error instanceof Error) throw error
          break
        }
      }
      return { mode: 'redis', limit, delaysMs: Array(k).fill(0), deferDelaysMs: Array(n - k).fill(1000) }
    },
  }
}

const CAPACITY = 'capacity (no limit)'
const CUT = 'cut 100 → 2 → 100'

/** BENCH_PACING_ONLY_LIMITS=1: the limit runs only (profiling), no anchors and no cut. */
class OnlyLimits extends Error {}

interface RunResult {
  name: string
  limit: number
  tasks: number
  achievedOverLimit: number
  runOverIdeal: number
  worstWindowAtWorker: number
  deferrals: number
  dlq: number
  dialedOnce: boolean
  /** dials/s at the worker from the first dial to the last */
  dialsPerSecond: number
  perSecond: number[]
  /** the limit's changes during the run: [s since the first dial, limit] (the cut) */
  limitSteps: Array<[number, number]>
}

async function main(): Promise<BenchSection> {
  const schema = `bench_pacing_${randomBytes(4).toString('hex')}`
  const pool = createPool({ schema, max: 12 })
  const admin = createPool({ max: 1 })
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  const dials = new Map<string, number[]>()
  let current = ''
  const trunk = createTrunkGate()
  const worker: Server = createServer((req, res) => {
    void (async () => {
      let text = ''
      for await (const chunk of req) text += chunk
      const body = JSON.parse(text) as {
        contactId: string
        callId: string
        notBefore?: number
        cpsLimit?: number
      }
      // The real worker's order (worker/app.ts): the trunk gate, then the answer, so a batch's
      // POSTs last until their slots, as they do against the real worker.
      const at = await trunk.pass(body.notBefore, body.cpsLimit)
      const list = dials.get(current) ?? []
      list.push(at)
      dials.set(current, list)
      res.writeHead(202, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ callId: body.callId, status: 'accepted' }))
    })()
  })
  worker.listen(0, '127.0.0.1')
  await once(worker, 'listening')
  const workerUrl = `http://127.0.0.1:${(worker.address() as net.AddressInfo).port}`
  await migrate({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    schema,
  })

  let seq = 0
  async function runOnce(
    name: string,
    limit: number,
    tasks: number,
    makeLimiter: (prefix: string) => AdmissionLimiter,
    during?: (prefix: string, setLimit: (limit: number) => Promise<void>) => Promise<void>,
  ): Promise<RunResult> {
    seq++
    current = `${name}-${seq}`
    const prefix = `bench:pacing:${randomBytes(4).toString('hex')}:`
    await redis.set(`${prefix}cps:limit`, String(limit))
    await redis.hset(`${prefix}cps:pacer`, 'tat', '0') // a limiter that has been running
    const { queue } = await ensureLocalQueues(pool, {
      queueName: `q${seq}`,
      dlqName: `q${seq}-dlq`,
      onDeadLetter: recordDeadLetteredTasks,
    })
    const logger = silent()
    const dial = createDialer({
      ...deferralTiming(WINDOW_SECONDS),
      limiter: createResilientLimiter({ primary: makeLimiter(prefix), logger }),
      limitStore: createLimitStore({ redis, prefix }),
      worker: createWorkerClient({ url: workerUrl, token: 'x', timeoutMs: 5000 }),
      outcomes: createPgOutcomeRecorder(pool),
      marker: createRedisDialMarker({ redis, prefix }),
      logger,
      metrics: { addMetric: () => undefined },
      requeue: queueRequeue(queue),
    })
    const pipe = new LocalPipe<EnrichedDialTask>({
      name: `pace-${seq}`,
      pool,
      source: queue,
      enrich: enrichWith(campaign),
      target: (events) => dial(events),
      batchWindowSeconds: WINDOW_SECONDS,
      concurrency: POLLERS,
      maxConcurrency: MAX_POLLERS,
      retryBackoff: { baseSeconds: 1, maxSeconds: 10 },
      logger,
    })
    for (let i = 0; i < tasks; i += 10)
      await queue.sendBatch(
        Array.from({ length: Math.min(10, tasks - i) }, (_, j) => ({
          id: `e${j}`,
          body: JSON.stringify({
            campaignId: 'pace',
            contactId: `${current}-${i + j}`,
            phoneNumber: `+4420794${String((i + j) % 100_000).padStart(5, '0')}`,
            attempts: 0,
          }),
        })),
      )
    const started = Date.now()
    await pipe.start()
    const steps: Array<[number, number]> = [[Date.now(), limit]]
    const cut = during?.(prefix, async (next) => {
      await redis.set(`${prefix}cps:limit`, String(next))
      steps.push([Date.now(), next])
    })
    let lastElu = performance.eventLoopUtilization()
    const debug =
      process.env.BENCH_PACING_DEBUG === '1'
        ? setInterval(() => {
            const elu = performance.eventLoopUtilization(lastElu)
            lastElu = performance.eventLoopUtilization()
            const line = `  t=${((Date.now() - started) / 1000).toFixed(0)}s dials=${dials.get(current)?.length ?? 0} pollers=${pipe.pollerCount} elu=${elu.utilization.toFixed(2)}`
            const t0 = performance.now()
            void pool
              .query<{ dead: string; live: string }>(
                `SELECT n_dead_tup AS dead, n_live_tup AS live FROM pg_stat_user_tables WHERE relname = 'queue_messages' AND schemaname = current_schema()`,
              )
              .then(({ rows }) =>
                process.stderr.write(
                  `${line} queue rows live ${rows[0]?.live} dead ${rows[0]?.dead} (query ${(performance.now() - t0).toFixed(0)} ms)\n`,
                ),
              )
          }, 1000)
        : undefined
    const deadline = started + (tasks / limit) * 1000 * 4 + 60_000
    while ((dials.get(current)?.length ?? 0) < tasks && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    await cut
    clearInterval(debug)
    await pipe.close()
    const times = dials.get(current) ?? []
    const first = Math.min(...times)
    const last = Math.max(...times)
    const { rows } = await pool.query<{ deferred: string; dlq: string }>(
      `SELECT count(*) FILTER (WHERE outcome = 'deferred') AS deferred, count(*) FILTER (WHERE outcome = 'dlq') AS dlq
       FROM task_outcomes WHERE contact_id LIKE $1`,
      [`${current}-%`],
    )
    await deleteKeys(redis, prefix) // the limiter's and the dial markers' keys (a 14-day TTL)
    const perSecond: number[] = []
    for (const t of times) {
      const i = Math.floor((t - first) / 1000)
      perSecond[i] = (perSecond[i] ?? 0) + 1
    }
    const ideal = ((tasks - 1) / limit) * 1000
    return {
      name,
      limit,
      tasks,
      achievedOverLimit: (times.length - 1) / ((last - first) / 1000) / limit,
      runOverIdeal: (last - first) / ideal,
      worstWindowAtWorker: worstWindow(times),
      deferrals: Number(rows[0]!.deferred),
      dlq: Number(rows[0]!.dlq),
      dialedOnce: times.length === tasks,
      dialsPerSecond: (times.length - 1) / ((last - first) / 1000),
      perSecond: Array.from(perSecond, (v) => v ?? 0),
      limitSteps: steps.map(([at, l]) => [Math.max(0, (at - first) / 1000), l]),
    }
  }

  const results: RunResult[] = []
  const slots = (prefix: string) => createRedisLimiter({ redis, prefix })
  try {
    for (const limit of LIMITS) {
      if (limit >= 500) {
        // The anchor for the highest limit, measured just before it: what this pipeline (and
        // this shared machine, now) delivers with no limit at all.
        process.stdout.write('  capacity anchor: the same pipeline, no limit…\n')
        results.push(await runOnce(CAPACITY, 100_000, QUICK ? 2000 : 5000, slots))
      }
      process.stdout.write(`  dialctl at ${limit} CPS…\n`)
      results.push(await runOnce('dialctl', limit, limit * BACKLOG_FACTOR, slots))
    }
    if (process.env.BENCH_PACING_ONLY_LIMITS === '1') throw new OnlyLimits()
    process.stdout.write('  anchors at 25 CPS…\n')
    results.push(await runOnce("seed's GET-then-INCR", 25, 500, (prefix) => seedLimiter(redis, prefix)))
    results.push(
      await runOnce('rate-limiter-flexible', 25, 500, (prefix) => flexibleLimiter(redis, prefix, 25)),
    )
    process.stdout.write('  the cut: 1,000 queued, 100 → 2 CPS for 10 s → 100…\n')
    const cutRun = await runOnce(
      CUT,
      100,
      QUICK ? 400 : 1000,
      (prefix) => createRedisLimiter({ redis, prefix, deferHorizonMs: 5000 }),
      async (_prefix, setLimit) => {
        await new Promise((r) => setTimeout(r, 2000))
        await setLimit(2)
        await new Promise((r) => setTimeout(r, 10_000))
        await setLimit(100)
      },
    )
    results.push(cutRun)
  } catch (error) {
    if (!(error instanceof OnlyLimits)) throw error
  } finally {
    worker.closeAllConnections()
    worker.close()
    await pool.end()
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {})
    await admin.end()
    redis.disconnect()
  }

  const meets = (r: RunResult) =>
    r.achievedOverLimit >= 0.98 && r.runOverIdeal <= 1.03 && r.worstWindowAtWorker <= r.limit && r.dlq === 0
  const rows = results.map((r) =>
    r.name === CAPACITY
      ? `| ${r.name} | — | ${r.tasks} | ${r.dialsPerSecond.toFixed(0)} | — | — | — | ${r.deferrals} | ${r.dlq} | ${r.dialedOnce ? 'yes' : 'NO'} | anchor |`
      : `| ${r.name} | ${r.limit} | ${r.tasks} | ${r.dialsPerSecond.toFixed(1)} | ${r.achievedOverLimit.toFixed(3)} | ${r.runOverIdeal.toFixed(3)} | ${r.worstWindowAtWorker} | ${r.deferrals} | ${r.dlq} | ${r.dialedOnce ? 'yes' : 'NO'} | ${r.name === 'dialctl' ? (meets(r) ? 'met' : '**not met**') : '—'} |`,
  )
  const chart = lineChart({
    title: 'Dials per second at the worker against the limit (backlog 20 × limit; the cut)',
    xLabel: 'seconds since the first dial',
    panels: results
      .filter((r) => r.name !== CAPACITY)
      .map((r) => ({
        yLabel: r.name === CUT ? 'cut 100 → 2 → 100' : `${r.name} @ ${r.limit}`,
        yMin: 0,
        yMax: Math.max(r.limit * 1.4, ...r.perSecond),
        series: [
          {
            name: r.name === CUT ? 'limit' : `limit ${r.limit}`,
            points: [...r.limitSteps, [r.perSecond.length, r.limitSteps.at(-1)![1]]] as Array<
              [number, number]
            >,
            color: '#d62728',
            dashed: true,
            step: true,
          },
          {
            name: 'dials/s at the worker',
            points: r.perSecond.map((c, i) => [i + 0.5, c] as [number, number]),
            color: '#1f77b4',
            dots: true,
          },
        ],
      })),
  })
  const ours = results.filter((r) => r.name === 'dialctl' || r.name === CUT)
  return {
    title: 'Pacing at the trunk (deferral, slot-timed origination)',
    markdown: [
      `Local pipeline with the Lambdas' code (PgQueue → LocalPipe, batch 10 / ${WINDOW_SECONDS} s batching window as on AWS and in \`dialctl dev\`, ${POLLERS} pollers scaling to ${MAX_POLLERS} with the backlog as Lambda's SQS poller does → dialer → limiter), a worker stand-in that originates through the real trunk gate and answers POST /dial when the call leaves, as the real worker does. Goals: achieved ÷ limit ≥ 0.98, run ÷ ideal ≤ 1.03, worst window ≤ limit, DLQ 0. The capacity anchor is the same pipeline with no limit, measured just before the highest limit: on this shared 2-core machine it says how much headroom that run had.`,
      '',
      '| limiter | limit | tasks | dials/s | achieved ÷ limit | run ÷ ideal | worst 1000 ms at worker | deferrals | DLQ | each dialed once | goals |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      "The anchors run behind the same worker, whose trunk gate holds every call to the command's limit: their worst window is the gate's doing, not theirs. What they cost shows in the refusals (admit-now-or-refuse churns the queue: every refused task comes back and asks again) and, for rate-limiter-flexible's fixed one-second buckets, in the budget. The cut row's ratios measure the cut itself (10 s at 2 CPS), not the limiter; what counts there is DLQ 0 and every task dialed once.",
      '',
      '![dials per second at the worker](pacing-cps.svg)',
    ].join('\n'),
    json: { results },
    summary: [
      ...ours.map((r) =>
        r.name === CUT
          ? `pacing cut 100 → 2 → 100 with ${r.tasks} queued: DLQ ${r.dlq}, each dialed once: ${r.dialedOnce ? 'yes' : 'NO'}, ${r.deferrals} deferrals`
          : `pacing ${r.limit} CPS: achieved ${r.achievedOverLimit.toFixed(3)} × limit, run ${r.runOverIdeal.toFixed(3)} × ideal, worst window ${r.worstWindowAtWorker}, DLQ ${r.dlq}`,
      ),
      ...results
        .filter((r) => r.name === CAPACITY)
        .map((r) => `pacing capacity anchor (no limit): ${r.dialsPerSecond.toFixed(0)} dials/s`),
    ],
    files: { 'pacing-cps.svg': chart },
  }
}

export const run = main
