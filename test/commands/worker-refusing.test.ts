/**
 * A worker that answers 503 draining (or 429) to every POST /dial: the dialer defers each task by
 * its Retry-After without spending a receive, so nothing fails and nothing reaches the DLQ — and
 * without the worker verdict `status` and `doctor` said all was well (issue #16). The Lambdas'
 * path on the local pipe (the dialer reporting through the local stack's metrics store into
 * pipe_metrics, as local/stack.ts wires it) against a stub worker, then the commands.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type net from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { DoctorReport } from '../../src/control/doctor.js'
import { createDialer, dialerDeps } from '../../src/dialer/create-dialer.js'
import { createLogger } from '../../src/observability/logger.js'
import { LocalPipe } from '../../src/pipe/local-pipe.js'
import { pipeMetrics } from '../../src/pipe/state.js'
import { pipeTargetMetrics } from '../../src/pipe/target-metrics.js'
import { ensureLocalQueues } from '../../src/queue/pg-queue.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { WORKER_REFUSING_MIN } from '../../src/control/verdicts.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { enrichWith, primeLimiter } from '../helpers/pacing.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { dialctl, jsonOf } from './helpers.js'

const PIPE = 'worker-refusing-pipe'
const TASKS = WORKER_REFUSING_MIN + 2

/** 'refuse': 503 draining to every POST /dial; 'moment': 429 to the first three, then 202. */
let mode: 'refuse' | 'moment' = 'refuse'
let posts = 0
let stub: Server
let stubUrl: string
let db: TestDb
let t: TestRedis
const saved = { ...process.env }

function startStub(): Promise<void> {
  stub = createServer((req, res) => {
    void (async () => {
      let text = ''
      for await (const chunk of req) text += chunk
      if (req.method === 'GET' && req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end('{"ok":true}')
      }
      posts++
      if (mode === 'refuse' || posts <= 3) {
        const status = mode === 'refuse' ? 503 : 429
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' })
        return res.end(JSON.stringify({ error: mode === 'refuse' ? 'draining' : 'at_capacity' }))
      }
      const body = JSON.parse(text) as { callId: string }
      res.writeHead(202, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ callId: body.callId, status: 'accepted' }))
    })()
  })
  stub.listen(0, '127.0.0.1')
  return once(stub, 'listening').then(() => {
    stubUrl = `http://127.0.0.1:${(stub.address() as net.AddressInfo).port}`
  })
}

const campaign = {
  id: 'wr',
  name: 'Worker refusing',
  type: 'voice' as const,
  status: 'active' as const,
  config: {
    audioFileUrl: 'https://example.test/audio.wav',
    ivrFlow: {
      startNodeId: 'n1',
      nodes: [{ id: 'n1', type: 'play_audio' as const, audioUrl: 'https://example.test/a.wav' }],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 1000,
    maxAttemptsPerContact: 3,
  },
  timezone: 'UTC',
}

/** The local stack's pipe phase (local/stack.ts startPipe) with the stub as the worker. */
async function pipeline() {
  const { queue } = await ensureLocalQueues(db.pool)
  const late: { pipe?: LocalPipe<unknown> } = {}
  const dial = createDialer(
    dialerDeps({
      redis: t.redis,
      db: db.pool,
      queue,
      logger: createLogger('dialer-worker', { level: 'SILENT' }),
      metrics: pipeTargetMetrics(() => late.pipe),
      config: {
        WORKER_URL: stubUrl,
        WORKER_TOKEN: 'x',
        MAX_CPS: 100,
        DEGRADED_CPS: 5,
        WORKER_TIMEOUT_MS: 5000,
        DIALCTL_REDIS_PREFIX: t.prefix,
      },
    }),
  )
  const pipe = new LocalPipe<unknown>({
    name: PIPE,
    pool: db.pool,
    source: queue,
    enrich: enrichWith(campaign),
    target: async (events) => dial(events),
    batchWindowSeconds: 0.1,
    stateCheckIntervalMs: 100,
    countersFlushMs: 100,
    logger: createLogger('pipe', { level: 'SILENT' }),
  })
  late.pipe = pipe
  await pipe.start()
  const tasks = Array.from({ length: TASKS }, (_, i) =>
    buildDialTask({ campaignId: campaign.id, contactId: `wr-${mode}-${i}`, phoneNumber: testNumber(i) }),
  )
  for (let i = 0; i < tasks.length; i += 10)
    await queue.sendBatch(
      tasks.slice(i, i + 10).map((task, j) => ({ id: String(j), body: JSON.stringify(task) })),
    )
  return { pipe, queue }
}

beforeAll(async () => {
  ;[db, t] = await Promise.all([createTestDb('workref'), createTestRedis('workref'), startStub()])
  await primeLimiter(t.redis, t.prefix)
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_REDIS_PREFIX: t.prefix,
    DIALCTL_STAGE: 'local',
    DIALCTL_WORKER_URL: stubUrl,
    DIALCTL_PIPE_NAME: PIPE,
    NO_COLOR: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
})

afterAll(async () => {
  process.env = saved
  stub.closeAllConnections()
  stub.close()
  await Promise.all([db.drop(), t.cleanup()])
})

describe('a worker refusing every dial is a health verdict', () => {
  it('503 draining forever: status exits 3 naming the worker; doctor fails its check with the next command', async () => {
    mode = 'refuse'
    const { pipe } = await pipeline()
    try {
      await vi.waitFor(
        async () => {
          const m = await pipeMetrics(db.pool, PIPE, 5)
          expect(m.workerDeferrals).toBeGreaterThanOrEqual(WORKER_REFUSING_MIN)
        },
        { timeout: 20_000, interval: 100 },
      )
    } finally {
      await pipe.close()
    }
    const m = await pipeMetrics(db.pool, PIPE, 5)
    expect(m.tasksDialed).toBe(0)
    expect(m.messagesFailed).toBe(0) // deferral, not failure: this is why nothing else turned red

    const status = await dialctl(['status', '--json'])
    expect(status.exitCode).toBe(3)
    const problems = (jsonOf(status) as { problems: string[] }).problems
    const worker = problems.find((p) => p.startsWith('worker refusing dials:'))
    expect(worker).toMatch(
      new RegExp(
        `^worker refusing dials: \\d+ task\\(s\\) deferred by the worker at ${stubUrl} .*, 0 dial\\(s\\) accepted`,
      ),
    )
    expect(worker).toContain(`curl -s ${stubUrl}/metrics`)
    const text = await dialctl(['status'])
    expect(text.stdout).toContain('worker refusing dials')

    const doctor = await dialctl(['doctor', '--json'])
    expect(doctor.exitCode).toBe(3)
    const check = DoctorReport.parse(jsonOf(doctor)).checks.find((c) => c.id === 'worker-refusing')
    expect(check).toMatchObject({ status: 'fail', title: 'Worker accepting dials' })
    expect(check!.detail).toMatch(
      new RegExp(`^\\d+ task\\(s\\) deferred by the worker at ${stubUrl} .*, 0 dial\\(s\\) accepted`),
    )
    expect(check!.fix).toContain(`curl -s ${stubUrl}/metrics`)
  })

  it('429 for a moment, then accepting: no verdict', async () => {
    const { queue } = await ensureLocalQueues(db.pool)
    await queue.purge()
    await db.pool.query('DELETE FROM pipe_metrics')
    mode = 'moment'
    posts = 0
    const { pipe } = await pipeline()
    try {
      await vi.waitFor(
        async () => {
          const m = await pipeMetrics(db.pool, PIPE, 5)
          expect(m.tasksDialed).toBe(TASKS)
        },
        { timeout: 20_000, interval: 100 },
      )
    } finally {
      await pipe.close()
    }
    const m = await pipeMetrics(db.pool, PIPE, 5)
    expect(m.workerDeferrals).toBe(3)

    const status = await dialctl(['status', '--json'])
    const result = jsonOf(status) as { problems: string[]; warnings: string[] }
    expect(result.problems.filter((p) => p.includes('worker'))).toEqual([])
    expect(result.warnings.filter((p) => p.includes('worker'))).toEqual([])
    const doctor = DoctorReport.parse(jsonOf(await dialctl(['doctor', '--json'])))
    expect(doctor.checks.find((c) => c.id === 'worker-refusing')).toMatchObject({ status: 'ok' })
  })
})
