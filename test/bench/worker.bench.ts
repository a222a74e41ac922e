/**
 * Worker capacity: how many simulated calls one worker process carries at once, what each costs
 * in memory, and how fast POST /dial accepts over HTTP with outcomes recorded in PostgreSQL.
 */
import { Agent } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { IvrFlow } from '../../src/contracts/ivr.js'
import type { DialCommand } from '../../src/contracts/messages.js'
import { runIvr } from '../../src/ivr/runner.js'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker } from '../../worker/app.js'
import { SimDriver, type SimOptionsInput } from '../../worker/drivers/sim.js'
import { createTestDb } from '../helpers/db.js'
import { fmt, QUICK, stats, type BenchSection, type Stats } from './types.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const RUNS = QUICK ? 1 : 3
/** The held-calls ramp stops at the first of these (a limit), or at MAX_CALLS (no limit reached). */
const LOOP_P99_LIMIT_MS = 50
const HEAP_LIMIT_BYTES = 1024 ** 3
const MAX_CALLS = QUICK ? 20_000 : 160_000
const flow = IvrFlow.parse({
  startNodeId: 'intro',
  nodes: [
    { id: 'intro', type: 'play_audio', audioUrl: 'intro.mp3', nextNodeId: 'ask' },
    {
      id: 'ask',
      type: 'capture_input',
      timeout: 5,
      validInputs: ['1', '9'],
      actions: { '1': { type: 'trigger_donation' }, '9': { type: 'add_to_blacklist' } },
    },
  ],
})
/** ~2 s answered calls: 0.3–0.5 s ring, 1 s prompt, 0.3–0.6 s to press 1. */
const twoSecondCalls: SimOptionsInput = {
  seed: 7,
  speed: 1,
  answerRate: 1,
  busyRate: 0,
  ringMs: [300, 500],
  playbackMs: [1000, 1000],
  digitDelayMs: [300, 600],
  dtmf: { '1': 1 },
}

interface CapacityRun {
  wallMs: number
  heapPerCallBytes: number
  loopP99Ms: number
  cpuPercent: number
}

/** N concurrent sim calls through the IVR runner, in this process, no database. */
async function capacityRun(n: number): Promise<CapacityRun> {
  const driver = new SimDriver(twoSecondCalls)
  const actions = { run: async () => {} }
  gc()
  const baseline = process.memoryUsage().heapUsed
  let peak = baseline
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 50)
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const { call } = await driver.originate({
        callId: `bench-${n}-${i}`,
        phoneNumber: '+972501234567',
        ringTimeoutSeconds: 30,
        variables: {},
      })
      if (call) await runIvr(flow, call, actions)
    }),
  )
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  loop.disable()
  clearInterval(sampler)
  return {
    wallMs,
    heapPerCallBytes: (peak - baseline) / n,
    loopP99Ms: loop.percentile(99) / 1e6,
    cpuPercent: ((used.user + used.system) / 1000 / wallMs) * 100,
  }
}

interface HttpRun {
  acceptedPerSecond: number
  recordedPerSecond: number
  peakActive: number
  rejected: number
}

/** `total` dials POSTed with `concurrency` in flight, worker and outcomes on the real PostgreSQL. */
async function httpRun(
  total: number,
  concurrency: number,
  sim: SimOptionsInput,
  label: string,
): Promise<HttpRun> {
  const tdb = await createTestDb('bench_worker')
  const token = 'bench-token-0123456789abcdef'
  const worker = createWorker({
    db: tdb.pool,
    driver: new SimDriver(sim),
    token,
    workerId: 'bench',
    caps: { maxActiveCalls: 100_000 },
    logger: createLogger('worker', { level: 'SILENT' }),
  })
  const port = await worker.listen(0, '127.0.0.1')
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  let peakActive = 0
  const peakSampler = setInterval(() => (peakActive = Math.max(peakActive, worker.activeCalls)), 20)
  let next = 0
  let rejected = 0
  const started = performance.now()
  const client = async () => {
    while (next < total) {
      const i = next++
      const cmd: DialCommand = {
        callId: `call-bench-${label}-${i}-0`,
        phoneNumber: '+972501234567',
        campaignId: 'bench',
        contactId: `${label}-${i}`,
        audioFileUrl: 'intro.mp3',
        ivrFlow: flow,
        metadata: {},
        attempt: 0,
      }
      const status = await post(port, agent, token, JSON.stringify(cmd))
      if (status !== 202) rejected++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client))
  const acceptedMs = performance.now() - started
  await worker.idle()
  const recordedMs = performance.now() - started
  clearInterval(peakSampler)
  agent.destroy()
  await worker.close()
  await tdb.drop()
  return {
    acceptedPerSecond: (total - rejected) / (acceptedMs / 1000),
    recordedPerSecond: (total - rejected) / (recordedMs / 1000),
    peakActive,
    rejected,
  }
}

async function post(port: number, agent: Agent, token: string, body: string): Promise<number> {
  const { request } = await import('node:http')
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/dial',
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

function collect<T>(runs: T[], key: keyof T): Stats {
  return stats(runs.map((r) => r[key] as number))
}

export async function run(): Promise<BenchSection> {
  // Held calls: double the number of concurrent calls until event-loop p99 passes 50 ms or the
  // calls' heap passes 1 GiB — the figure is where that happens, not a count we stopped at.
  const capacity: Record<string, Record<string, Stats>> = {}
  let limit = `none reached up to ${MAX_CALLS.toLocaleString('en-US')} calls (the ramp's end)`
  let held = 0
  for (let n = 1000; n <= MAX_CALLS; n *= 2) {
    const runs: CapacityRun[] = []
    for (let r = 0; r < RUNS; r++) runs.push(await capacityRun(n))
    const c = {
      wallMs: collect(runs, 'wallMs'),
      heapPerCallBytes: collect(runs, 'heapPerCallBytes'),
      loopP99Ms: collect(runs, 'loopP99Ms'),
      cpuPercent: collect(runs, 'cpuPercent'),
    }
    capacity[n] = c
    if (c.loopP99Ms.median > LOOP_P99_LIMIT_MS) {
      limit = `event-loop p99 ${c.loopP99Ms.median.toFixed(1)} ms > ${LOOP_P99_LIMIT_MS} ms at ${n.toLocaleString('en-US')} calls`
      break
    }
    if (c.heapPerCallBytes.median * n > HEAP_LIMIT_BYTES) {
      limit = `heap ${((c.heapPerCallBytes.median * n) / 1024 ** 2).toFixed(0)} MiB > 1024 MiB at ${n.toLocaleString('en-US')} calls`
      break
    }
    held = n
  }

  const http: Record<string, Record<string, Stats>> = {}
  const httpCases = [
    {
      name: 'instant calls, 2000 dials, 32 in flight',
      total: 2000,
      concurrency: 32,
      sim: { speed: 0, answerRate: 1, busyRate: 0, dtmf: { '1': 1 } },
    },
    { name: '~2 s calls, 1000 dials, 64 in flight', total: 1000, concurrency: 64, sim: twoSecondCalls },
  ]
  for (const [c, hc] of httpCases.entries()) {
    const runs: HttpRun[] = []
    for (let r = 0; r < RUNS; r++) runs.push(await httpRun(hc.total, hc.concurrency, hc.sim, `${c}-${r}`))
    http[hc.name] = {
      acceptedPerSecond: collect(runs, 'acceptedPerSecond'),
      recordedPerSecond: collect(runs, 'recordedPerSecond'),
      peakActive: collect(runs, 'peakActive'),
      rejected: collect(runs, 'rejected'),
    }
  }

  const markdown = [
    `Concurrent simulated calls in one process (sim driver + IVR runner, no database; each call ~2 s: ring 0.3–0.5 s, 1 s prompt, digit after 0.3–0.6 s), doubled from 1,000 until event-loop p99 > ${LOOP_P99_LIMIT_MS} ms or the calls' heap > 1 GiB. Median of ${RUNS} run(s) (min, max).`,
    '',
    `**Held within the limits: ${held.toLocaleString('en-US')} concurrent calls; limit: ${limit}.**`,
    '',
    '| concurrent calls | wall time (ms) | heap per call (bytes) | event-loop p99 (ms) | CPU (% of one core) |',
    '|---:|---:|---:|---:|---:|',
    ...Object.entries(capacity).map(
      ([n, s]) =>
        `| ${n} | ${fmt(s.wallMs!)} | ${fmt(s.heapPerCallBytes!)} | ${fmt(s.loopP99Ms!, 1)} | ${fmt(s.cpuPercent!)} |`,
    ),
    '',
    `POST /dial over HTTP (keep-alive), each call recorded in PostgreSQL (begin + donation + finish). Median of ${RUNS} runs (min, max).`,
    '',
    '| case | dials accepted / s | calls recorded / s (to idle) | peak active calls | non-202 |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(http).map(
      ([name, s]) =>
        `| ${name} | ${fmt(s.acceptedPerSecond!)} | ${fmt(s.recordedPerSecond!)} | ${fmt(s.peakActive!)} | ${fmt(s.rejected!)} |`,
    ),
  ].join('\n')
  return {
    title: 'Worker capacity',
    markdown,
    json: { capacity, http, heldCalls: held, limit },
    summary: [
      `Worker: ${held.toLocaleString('en-US')} concurrent simulated calls held in one process; limit: ${limit}.`,
    ],
  }
}
