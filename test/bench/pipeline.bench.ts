/**
 * End-to-end local pipeline, on the real PostgreSQL and Redis with the Lambdas' own handler code
 * (`startLocalStack`: local queue → pipe (filter, batch, enrich) → dialer (limiter) → worker with
 * a sim callee answering at once → outcomes in PostgreSQL), in its own schema and Redis prefix.
 * The stack is the emitted code in dist/ (built once per run), as `dialctl dev` and the Lambda
 * bundles run it; the minimal pipeline is bench code under tsx, whose keepNames wrappers touch its
 * few named functions once at load.
 *
 * 1. Throughput, limiter effectively unlimited: tasks/s from the first push to the recorded call
 *    outcomes (call_attempts.ended_at; burstRate: to the 95th percentile's, and to the last),
 *    against the minimal pipeline timed alike and the raw local queue's send + receive + delete
 *    rate measured in the same run, on the same pool, with the same shape (one producer sending
 *    batches of 10 while as many consumers as pipe pollers receive 10 and delete). Runs
 *    interleave, so load from elsewhere on the machine hits both alike.
 * 2. Paced: the limit set to 25 CPS (as `dialctl cps set` does), a backlog of tasks pushed at
 *    once: dials per second at the worker (call_attempts.started_at) and slots per second in the
 *    limiter's own history, against the limit; send → dial time. Then a feed below the limit
 *    (20 tasks/s) whose send → dial time is the pipeline's own latency, not the backlog's.
 */
import { randomBytes } from 'node:crypto'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { DEMO_CAMPAIGN_ID } from '../../src/local-stack/demo.js'
import type { LocalStack } from '../../local/stack.js'
import { readCpsHistory } from '../../src/pacing/history.js'
import { createLimitStore } from '../../src/pacing/limit-store.js'
import { ensureLocalQueues, type PgQueue } from '../../src/queue/pg-queue.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { importBuilt } from './built.js'
import { lineChart } from './charts.js'
import { startMinimalPipeline, type MinimalPipeline } from './minimal-pipeline.js'
import {
  burstRate,
  fmt,
  percentile,
  QUICK,
  stats,
  STEADY_SHARE,
  type BenchSection,
  type BurstRate,
  type Stats,
} from './types.js'
import { dropKeys } from '../helpers/redis.js'

const THROUGHPUT_TASKS = QUICK ? 500 : 2000
const THROUGHPUT_RUNS = QUICK ? 2 : 9
/**
 * Tasks each side runs before the measured runs. V8 needs thousands of tasks to settle the
 * pipeline's code (its many functions tier up and deoptimise for a while); the minimal pipeline's
 * few functions settle at once. Measured on this machine (Node CPU per task of the first measured
 * run, against 1.03–1.22 ms in the later ones): after 300 warm-up tasks 1.73–1.83 ms, after 1,000
 * 1.46–1.63 ms, after 3,000 within 5 % of the later runs. The figure is a steady-state rate — a
 * Lambda container or the worker runs for hours —, so both sides warm up alike, by the same count.
 */
const WARM_UP_TASKS = QUICK ? 500 : 3000
/**
 * A pause after each timed run, so neither side's run pays for work the other left behind (the
 * pipe's last deletes and outcome rows, its pollers backing off, a batch of finishes committing).
 */
const SETTLE_MS = 1000
const UNLIMITED = 100_000
const PACED_LIMIT = 25
const PACED_TASKS = QUICK ? 150 : 300
const PACED_RUNS = QUICK ? 1 : 3
const FEED_RATE = 20
const FEED_TASKS = QUICK ? 60 : 100
const POLLERS = 4
const BATCH_WINDOW_S = 1

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Numbers given so far: contacts are unique by number in a campaign, and the reserved test numbers
 * (TEST_NUMBER_COUNT) are fewer than the raw queue's and the pipeline's tasks together, so only
 * tasks that become contacts take from them (the raw queue's bodies carry no contact).
 */
const numbering = { contacts: 0, raw: 0 }
/** Distinct contact ids, and distinct reserved test numbers among each numbering's tasks. */
function taskBodies(
  label: string,
  n: number,
  numbers: keyof typeof numbering = 'contacts',
): Array<{ contactId: string; phone: string; body: string }> {
  return Array.from({ length: n }, (_, i) => {
    const contactId = `${label}-${i}`
    const phone = testNumber(numbering[numbers]++)
    const body = JSON.stringify({
      campaignId: DEMO_CAMPAIGN_ID,
      contactId,
      phoneNumber: phone,
      metadata: { bench: label },
      attempts: 0,
    })
    return { contactId, phone, body }
  })
}

/** The contact rows the dispatcher would have queued: the worker's dial gate dials only those. */
async function queueContacts(
  stack: LocalStack,
  tasks: Array<{ contactId: string; phone: string }>,
): Promise<void> {
  await stack.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status)
     SELECT $1, id, phone, 'queued' FROM unnest($2::text[], $3::text[]) AS t(id, phone)`,
    [DEMO_CAMPAIGN_ID, tasks.map((t) => t.contactId), tasks.map((t) => t.phone)],
  )
}

/** Sends in batches of 10; returns each contact's send time (ms since epoch, before its batch call). */
async function push(
  queue: PgQueue,
  tasks: Array<{ contactId: string; body: string }>,
  perSecond?: number,
): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>()
  const started = Date.now()
  for (let i = 0; i < tasks.length; i += 10) {
    if (perSecond) {
      const due = started + (i / perSecond) * 1000
      if (due > Date.now()) await sleep(due - Date.now())
    }
    const chunk = tasks.slice(i, i + 10)
    const now = Date.now()
    for (const t of chunk) sentAt.set(t.contactId, now)
    const res = await queue.sendBatch(chunk.map((t, j) => ({ id: String(j), body: t.body })))
    if (res.failed.length) throw new Error(`bench: send failed: ${JSON.stringify(res.failed)}`)
  }
  return sentAt
}

interface Attempt {
  contactId: string
  startedMs: number
  endedMs: number | null
}

/** Waits until every task of the label has a finished call; returns the attempts. */
async function waitForCalls(
  stack: LocalStack,
  label: string,
  n: number,
  timeoutMs: number,
): Promise<Attempt[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { rows } = await stack.pool.query<{ done: string }>(
      `SELECT count(*) AS done FROM call_attempts WHERE contact_id LIKE $1 AND ended_at IS NOT NULL`,
      [`${label}-%`],
    )
    if (Number(rows[0]!.done) >= n) break
    if (Date.now() > deadline) {
      const depth = await stack.queue.depth()
      throw new Error(
        `bench: ${label}: ${rows[0]!.done} of ${n} calls finished after ${timeoutMs / 1000} s ` +
          `(queue ${JSON.stringify(depth)}); the pipeline is stuck or far slower than expected`,
      )
    }
    await sleep(100)
  }
  const { rows } = await stack.pool.query<{ contact_id: string; started: string; ended: string | null }>(
    `SELECT contact_id, extract(epoch FROM started_at) * 1000 AS started, extract(epoch FROM ended_at) * 1000 AS ended
       FROM call_attempts WHERE contact_id LIKE $1`,
    [`${label}-%`],
  )
  return rows.map((r) => ({
    contactId: r.contact_id,
    startedMs: Number(r.started),
    endedMs: r.ended === null ? null : Number(r.ended),
  }))
}

/** Every pushed task dialed exactly once, none in the DLQ: otherwise the figures mean nothing. */
function checkConservation(label: string, n: number, attempts: Attempt[], dlqCount: number): void {
  const distinct = new Set(attempts.map((a) => a.contactId)).size
  if (attempts.length !== n || distinct !== n || dlqCount !== 0)
    throw new Error(
      `bench: ${label}: ${attempts.length} calls for ${distinct} of ${n} tasks, ${dlqCount} in the DLQ; ` +
        'every task must be dialed exactly once',
    )
}

async function dlqCount(stack: LocalStack, label: string): Promise<number> {
  const { rows } = await stack.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM task_outcomes WHERE outcome = 'dlq' AND contact_id LIKE $1`,
    [`${label}-%`],
  )
  return Number(rows[0]!.n)
}

/** The raw local queue, same shape as the pipeline's queue work: 1 producer, POLLERS consumers. */
async function rawQueueRate(queue: PgQueue, label: string, n: number): Promise<number> {
  const tasks = taskBodies(label, n, 'raw')
  const started = performance.now()
  let left = n
  await Promise.all([
    push(queue, tasks),
    ...Array.from({ length: POLLERS }, async () => {
      while (left > 0) {
        const got = await queue.receive({
          maxMessages: 10,
          visibilityTimeoutSeconds: 60,
          waitTimeSeconds: 0.1,
        })
        if (got.length === 0) continue
        left -= got.length
        await queue.deleteBatch(got.map((m) => m.receiptHandle))
      }
    }),
  ])
  return n / ((performance.now() - started) / 1000)
}

async function pipelineRate(stack: LocalStack, label: string, n: number): Promise<BurstRate> {
  const tasks = taskBodies(label, n)
  await queueContacts(stack, tasks)
  const started = Date.now()
  await push(stack.queue, tasks)
  const attempts = await waitForCalls(stack, label, n, 300_000)
  checkConservation(label, n, attempts, await dlqCount(stack, label))
  return burstRate(
    attempts.map((a) => a.endedMs!),
    started,
  )
}

interface PacedRun {
  /** dials started at the worker per unix second, from the second of the first push */
  perSecond: number[]
  /** slots the limiter granted per (Redis) second, the same seconds */
  limiterPerSecond: number[]
  /** steady rate: dials after the first / time from the first dial to the last */
  achievedCps: number
  /** most dials at the worker in any [t, t + 1000 ms) */
  worstWindow: number
  sendToDialMs: number[]
  rateLimitedRetries: number
  seconds: number
}

function worstWindow(timesMs: number[]): number {
  const s = [...timesMs].sort((a, b) => a - b)
  let worst = 0
  for (let lo = 0, hi = 0; hi < s.length; hi++) {
    while (s[hi]! - s[lo]! >= 1000) lo++
    worst = Math.max(worst, hi - lo + 1)
  }
  return worst
}

async function pacedRun(
  stack: LocalStack,
  prefix: string,
  label: string,
  n: number,
  feedPerSecond?: number,
): Promise<PacedRun> {
  const tasks = taskBodies(label, n)
  await queueContacts(stack, tasks)
  const { rows } = await stack.pool.query<{ now: string }>(`SELECT extract(epoch FROM now()) AS now`)
  const startSec = Math.floor(Number(rows[0]!.now))
  const started = Date.now()
  const sentAt = await push(stack.queue, tasks, feedPerSecond)
  const attempts = await waitForCalls(stack, label, n, 300_000)
  checkConservation(label, n, attempts, await dlqCount(stack, label))
  const seconds = (Date.now() - started) / 1000

  const starts = attempts.map((a) => a.startedMs).sort((a, b) => a - b)
  // Both series bucketed by the same unix seconds (one host: Redis, PostgreSQL and Node share its
  // clock), so a slot and the dial it led to land in the same bucket unless they straddle a boundary.
  const perSecond: number[] = []
  for (const t of starts) {
    const i = Math.floor(t / 1000) - startSec
    while (perSecond.length <= i) perSecond.push(0)
    perSecond[i]!++
  }
  const history = await readCpsHistory(stack.redis, Math.min(120, Math.ceil(seconds) + 3), { prefix })
  const inRun = history.seconds.filter((s) => s.second >= startSec)
  // trailing empty seconds after the last slot say nothing about the pace
  while (inRun.length && inRun[inRun.length - 1]!.admitted === 0) inRun.pop()
  return {
    perSecond,
    limiterPerSecond: inRun.map((s) => s.admitted),
    achievedCps: (starts.length - 1) / ((starts[starts.length - 1]! - starts[0]!) / 1000),
    worstWindow: worstWindow(starts),
    sendToDialMs: attempts.map((a) => a.startedMs - sentAt.get(a.contactId)!),
    rateLimitedRetries: inRun.reduce((s, x) => s + x.rateLimited, 0),
    seconds,
  }
}

export function cpsChart(run: PacedRun, limit: number): string {
  const last = run.perSecond.length
  return lineChart({
    title: `Paced run: dials per second against the ${limit} CPS limit`,
    xLabel: 'seconds since the run started',
    panels: [
      {
        yLabel: 'calls per second',
        yMin: 0,
        yMax: Math.max(limit * 1.4, ...run.perSecond, ...run.limiterPerSecond),
        series: [
          {
            name: `limit (${limit} CPS)`,
            points: [
              [0, limit],
              [last, limit],
            ],
            color: '#d62728',
            dashed: true,
          },
          {
            name: "limiter's slots (Redis history)",
            points: run.limiterPerSecond.map((c, i) => [i + 0.5, c]),
            color: '#98df8a',
            width: 7,
            dots: true,
          },
          {
            name: 'dials started at the worker',
            // each second's count drawn at its middle
            points: run.perSecond.map((c, i) => [i + 0.5, c]),
            color: '#1f77b4',
            dots: true,
          },
        ],
      },
    ],
    height: 360,
  })
}

export async function run(): Promise<BenchSection> {
  const schema = `bench_pipeline_${randomBytes(4).toString('hex')}`
  const prefix = `bench:pipeline:${randomBytes(4).toString('hex')}:`
  let stack: LocalStack | undefined
  let minimal: MinimalPipeline | undefined
  try {
    // what `dialctl dev` runs: the emitted code, without tsx's per-definition __name wrappers
    const { startLocalStack } = await importBuilt<typeof import('../../local/stack.js')>(
      'local/stack.ts',
      'pipeline.bench',
    )
    stack = await startLocalStack({
      schema,
      redisPrefix: prefix,
      workerPort: 0,
      announce: false,
      dispatcher: false,
      maxCps: UNLIMITED,
      batchWindowSeconds: BATCH_WINDOW_S,
      pipeConcurrency: POLLERS,
      visibilityTimeoutSeconds: 30,
      sim: { speed: 0, answerRate: 1, busyRate: 0, seed: 7, dtmf: { '1': 1 } },
      // one JSON line per batch and per dial would drown the bench's output; errors still show
      logLevel: 'ERROR',
    })
    const { queue: rawQueue } = await ensureLocalQueues(stack.pool, {
      queueName: 'bench-raw',
      dlqName: 'bench-raw-dlq',
    })

    minimal = await startMinimalPipeline(stack.pool, stack.redis, { pollers: POLLERS, prefix })

    // warm-up: connections, plans, the campaign cache, and V8's tiers (WARM_UP_TASKS)
    await rawQueueRate(rawQueue, 'warm-raw', 200)
    await pipelineRate(stack, 'warm', WARM_UP_TASKS)
    await minimal.run(WARM_UP_TASKS)
    const raw: number[] = []
    const pipeline: BurstRate[] = []
    const mini: BurstRate[] = []
    for (let r = 0; r < THROUGHPUT_RUNS; r++) {
      raw.push(await rawQueueRate(rawQueue, `raw${r}`, THROUGHPUT_TASKS))
      await sleep(SETTLE_MS)
      // alternate which goes first, so a drift in the machine's load hits both alike
      const runPipeline = async () => {
        pipeline.push(await pipelineRate(stack!, `pl${r}`, THROUGHPUT_TASKS))
        await sleep(SETTLE_MS)
      }
      const runMinimal = async () => {
        mini.push(await minimal!.run(THROUGHPUT_TASKS))
        await sleep(SETTLE_MS)
      }
      if (r % 2 === 0) {
        await runPipeline()
        await runMinimal()
      } else {
        await runMinimal()
        await runPipeline()
      }
    }

    const limits = createLimitStore({ redis: stack.redis, prefix, db: stack.pool })
    await limits.setLimit(PACED_LIMIT, { actor: 'bench', reason: 'paced run', source: 'bench' })
    await sleep(1500) // the dialer caches the limit for up to a second
    const paced: PacedRun[] = []
    const fed: PacedRun[] = []
    for (let r = 0; r < PACED_RUNS; r++) {
      paced.push(await pacedRun(stack, prefix, `paced${r}`, PACED_TASKS))
      fed.push(await pacedRun(stack, prefix, `feed${r}`, FEED_TASKS, FEED_RATE))
    }

    const s = {
      pipelineTasksPerSecond: stats(pipeline.map((p) => p.steady)),
      pipelineEndToEndTasksPerSecond: stats(pipeline.map((p) => p.endToEnd)),
      pipelineTailMs: stats(pipeline.map((p) => p.tailMs)),
      rawQueueMessagesPerSecond: stats(raw),
      pipelineShareOfRaw: stats(pipeline.map((p, i) => p.steady / raw[i]!)),
      minimalPipelineTasksPerSecond: stats(mini.map((m) => m.steady)),
      minimalPipelineEndToEndTasksPerSecond: stats(mini.map((m) => m.endToEnd)),
      minimalPipelineTailMs: stats(mini.map((m) => m.tailMs)),
      pipelineShareOfMinimal: stats(pipeline.map((p, i) => p.steady / mini[i]!.steady)),
      pipelineShareOfMinimalEndToEnd: stats(pipeline.map((p, i) => p.endToEnd / mini[i]!.endToEnd)),
      paced: {
        achievedCps: stats(paced.map((p) => p.achievedCps)),
        busiestSecondAtWorker: stats(paced.map((p) => Math.max(...p.perSecond))),
        busiestSecondInLimiter: stats(paced.map((p) => Math.max(...p.limiterPerSecond))),
        worstWindowAtWorker: stats(paced.map((p) => p.worstWindow)),
        sendToDialP50Ms: stats(paced.map((p) => percentile(p.sendToDialMs, 50))),
        sendToDialP99Ms: stats(paced.map((p) => percentile(p.sendToDialMs, 99))),
        seconds: stats(paced.map((p) => p.seconds)),
        rateLimitedRetries: stats(paced.map((p) => p.rateLimitedRetries)),
      },
      feed: {
        achievedCps: stats(fed.map((p) => p.achievedCps)),
        sendToDialP50Ms: stats(fed.map((p) => percentile(p.sendToDialMs, 50))),
        sendToDialP99Ms: stats(fed.map((p) => percentile(p.sendToDialMs, 99))),
        busiestSecondInLimiter: stats(fed.map((p) => Math.max(...p.limiterPerSecond))),
      },
    }
    const row = (name: string, st: Stats, digits = 0) => `| ${name} | ${fmt(st, digits)} |`
    const minSeconds = (PACED_TASKS - PACED_LIMIT) / PACED_LIMIT
    const pct = `${STEADY_SHARE * 100}th`
    const markdown = [
      `Local stack on the real PostgreSQL and Redis (same handlers as the Lambdas), sim callee answering at once ` +
        `and pressing 1 (donation recorded), pipe: ${POLLERS} pollers, batches of 10, ${BATCH_WINDOW_S} s window.`,
      '',
      `**Throughput**, limit ${UNLIMITED.toLocaleString('en-US')} CPS (unlimited): ${THROUGHPUT_TASKS} tasks per run, ` +
        `${THROUGHPUT_RUNS} runs interleaved with the raw queue, after ${WARM_UP_TASKS} warm-up tasks on each side; ` +
        `median (min, max). Every task dialed exactly once, none in the DLQ (checked each run). The rate is ` +
        `tasks/s from the first push to the recorded call outcome of the task at the ${pct} percentile, on both ` +
        `sides; end to end (to the last outcome) and the tail are beside it. A burst ends in a few part-full ` +
        `batches, which the pipe holds until its ${BATCH_WINDOW_S} s batching window ends, as EventBridge Pipes ` +
        `does: up to one window per burst whatever its size, not a cost per task (the minimal pipeline does not ` +
        `batch).`,
      '',
      '| figure | median (min, max) |',
      '|---|---|',
      row(`pipeline: push → recorded outcome (${pct} percentile), tasks/s`, s.pipelineTasksPerSecond),
      row('pipeline: end to end (last outcome), tasks/s', s.pipelineEndToEndTasksPerSecond),
      row(`pipeline: tail, last outcome after the ${pct} percentile's, ms`, s.pipelineTailMs),
      row(
        `raw local queue: send (batches of 10) + receive 10 + delete, ${POLLERS} consumers, messages/s`,
        s.rawQueueMessagesPerSecond,
      ),
      row('pipeline as a share of the raw queue rate', s.pipelineShareOfRaw, 2),
      row(
        `anchor: minimal same-I/O pipeline (test/bench/minimal-pipeline.ts), ${pct} percentile, tasks/s`,
        s.minimalPipelineTasksPerSecond,
      ),
      row('anchor: end to end (last outcome), tasks/s', s.minimalPipelineEndToEndTasksPerSecond),
      row(`anchor: tail, last outcome after the ${pct} percentile's, ms`, s.minimalPipelineTailMs),
      row('pipeline as a share of the minimal pipeline (goal ≥ 0.8)', s.pipelineShareOfMinimal, 2),
      row('the same, end to end', s.pipelineShareOfMinimalEndToEnd, 2),
      '',
      `**Paced**, limit set to ${PACED_LIMIT} CPS: ${PACED_TASKS} tasks pushed at once (the limit allows the run no ` +
        `less than ${minSeconds.toFixed(1)} s), ${PACED_RUNS} run(s); then ${FEED_TASKS} tasks fed at ${FEED_RATE}/s, ` +
        `below the limit, where send → dial is the pipeline's own latency. Dials are call_attempts.started_at at ` +
        `the worker; slots are the limiter's per-second history in Redis.`,
      '',
      '| figure | median (min, max) |',
      '|---|---|',
      row('backlog: achieved CPS (first dial → last dial)', s.paced.achievedCps, 1),
      row('backlog: busiest second, limiter slots', s.paced.busiestSecondInLimiter),
      row('backlog: busiest second at the worker (1 s buckets)', s.paced.busiestSecondAtWorker),
      row('backlog: most dials in any 1000 ms window at the worker', s.paced.worstWindowAtWorker),
      row('backlog: send → dial p50, ms', s.paced.sendToDialP50Ms),
      row('backlog: send → dial p99, ms', s.paced.sendToDialP99Ms),
      row('backlog: run time, s', s.paced.seconds, 1),
      row('backlog: tasks refused by the limiter and retried', s.paced.rateLimitedRetries),
      row(`feed ${FEED_RATE}/s: achieved CPS`, s.feed.achievedCps, 1),
      row(`feed ${FEED_RATE}/s: send → dial p50, ms`, s.feed.sendToDialP50Ms),
      row(`feed ${FEED_RATE}/s: send → dial p99, ms`, s.feed.sendToDialP99Ms),
      '',
      `Reading it: the limiter's own record never has a second over ${PACED_LIMIT} (its exactness over any 1000 ms ` +
        `window is the limiter bench's figure). Its slots are ${1000 / PACED_LIMIT} ms apart, so ${PACED_LIMIT + 1} ` +
        `consecutive slots span exactly 1000 ms; the worker's timestamp of a dial comes after the dialer's wait, ` +
        `the HTTP request and the insert, all in this one busy process, so tens of ms of jitter can put one or two ` +
        `more into a 1000 ms window or a 1 s bucket measured at the worker. Achieved CPS below the limit comes from ` +
        `the tail: tasks the limiter refused (beyond its 1 s horizon) go back to the queue with the pipe's retry ` +
        `backoff and the pollers slow down while the dialer is rate-limited, so the last seconds run under the ` +
        `limit (compare the run time with the ${minSeconds.toFixed(1)} s minimum).`,
      '',
      `![dials per second against the ${PACED_LIMIT} CPS limit](cps.svg)`,
      '',
      'Per second, first backlog run — dials at the worker: ' +
        paced[0]!.perSecond.join(' ') +
        '; limiter slots: ' +
        paced[0]!.limiterPerSecond.join(' '),
    ].join('\n')
    const summary = [
      `Pipeline push → recorded outcome (${pct} percentile): ${fmt(s.pipelineTasksPerSecond)} tasks/s vs the raw ` +
        `local queue's send + receive + delete ${fmt(s.rawQueueMessagesPerSecond)} messages/s ` +
        `(${(s.pipelineShareOfRaw.median * 100).toFixed(0)}%); vs a minimal pipeline doing the same I/O ` +
        `${fmt(s.minimalPipelineTasksPerSecond)} tasks/s: ${s.pipelineShareOfMinimal.median.toFixed(2)} (goal ≥ 0.8; ` +
        `end to end, with the last batching window, ${s.pipelineShareOfMinimalEndToEnd.median.toFixed(2)}).`,
      `Paced at ${PACED_LIMIT} CPS: achieved ${s.paced.achievedCps.median.toFixed(1)} CPS, busiest limiter second ` +
        `${s.paced.busiestSecondInLimiter.max}, busiest 1000 ms at the worker ${s.paced.worstWindowAtWorker.max}; ` +
        `fed below the limit, send → dial p50 ${s.feed.sendToDialP50Ms.median.toFixed(0)} ms, ` +
        `p99 ${s.feed.sendToDialP99Ms.median.toFixed(0)} ms.`,
    ]
    return {
      title: 'End-to-end local pipeline',
      markdown,
      summary,
      files: { 'cps.svg': cpsChart(paced[0]!, PACED_LIMIT) },
      json: {
        pollers: POLLERS,
        batchWindowSeconds: BATCH_WINDOW_S,
        throughputTasks: THROUGHPUT_TASKS,
        throughputRuns: THROUGHPUT_RUNS,
        warmUpTasks: WARM_UP_TASKS,
        pacedLimit: PACED_LIMIT,
        pacedTasks: PACED_TASKS,
        pacedRuns: PACED_RUNS,
        feedRate: FEED_RATE,
        feedTasks: FEED_TASKS,
        ...s,
        firstPacedRun: { perSecond: paced[0]!.perSecond, limiterPerSecond: paced[0]!.limiterPerSecond },
      },
    }
  } finally {
    await minimal?.close()
    await stack?.stop()
    const admin = createPool({ max: 1 })
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
    await admin.end()
    await dropKeys(prefix)
  }
}
