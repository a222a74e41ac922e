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
import { fmt, stats, type BenchSection, type Stats } from './types.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const RUNS = 3
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
  const capacity: Record<string, Record<string, Stats>> = {}
  for (const n of [1000, 5000]) {
    const runs: CapacityRun[] = []
    for (let r = 0; r < RUNS; r++) runs.push(await capacityRun(n))
    capacity[n] = {
      wallMs: collect(runs, 'wallMs'),
      heapPerCallBytes: collect(runs, 'heapPerCallBytes'),
      loopP99Ms: collect(runs, 'loopP99Ms'),
      cpuPercent: collect(runs, 'cpuPercent'),
    }
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
    `Concurrent simulated calls in one process (sim driver + IVR runner, no database; each call ~2 s: ring 0.3–0.5 s, 1 s prompt, digit after 0.3–0.6 s). Median of ${RUNS} runs (min, max).`,
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
  return { title: 'Worker capacity', markdown, json: { capacity, http } }
}
