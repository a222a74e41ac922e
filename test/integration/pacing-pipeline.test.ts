import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type net from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { EnrichedDialTask } from '../../src/contracts/index.js'
import { deferralTiming } from '../../src/dialer/admission.js'
import { createDialer } from '../../src/dialer/create-dialer.js'
import { createRedisDialMarker } from '../../src/dialer/dial-marker.js'
import { createPgOutcomeRecorder, queueRequeue } from '../../src/dialer/ports.js'
import { createWorkerClient } from '../../src/dialer/worker-client.js'
import { createLogger } from '../../src/observability/logger.js'
import { recordDeadLetteredTasks } from '../../src/outcomes/dead-letter.js'
import { createResilientLimiter } from '../../src/pacing/degraded.js'
import { createLimitStore } from '../../src/pacing/limit-store.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { createTrunkGate } from '../../src/pacing/slot-wait.js'
import { LocalPipe } from '../../src/pipe/local-pipe.js'
import { ensureLocalQueues } from '../../src/queue/pg-queue.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { enrichWith, primeLimiter } from '../helpers/pacing.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

/**
 * The whole local path the Lambdas share (PgQueue → LocalPipe → dialer → limiter → POST /dial)
 * under a CPS cut (issue #12). The worker here is a stand-in that originates at the command's
 * notBefore (the real worker's rule, src/pacing/slot-wait.ts) and records when.
 */
interface Dial {
  contactId: string
  at: number
}
const dials: Dial[] = []
// the real worker's rule (worker/app.ts): originate at the slot, never over the limit per second
const trunk = createTrunkGate()
let worker: Server
let workerUrl: string

function startWorker(): Promise<void> {
  worker = createServer((req, res) => {
    void (async () => {
      let text = ''
      for await (const chunk of req) text += chunk
      const body = JSON.parse(text) as {
        contactId: string
        callId: string
        notBefore?: number
        cpsLimit?: number
      }
      if (body.contactId.startsWith('boom')) {
        res.writeHead(500, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ error: 'internal', message: 'ARI down' }))
      }
      res.writeHead(202, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ callId: body.callId, status: 'accepted' }))
      const at = await trunk.pass(body.notBefore, body.cpsLimit)
      dials.push({ contactId: body.contactId, at })
    })()
  })
  worker.listen(0, '127.0.0.1')
  return once(worker, 'listening').then(() => {
    workerUrl = `http://127.0.0.1:${(worker.address() as net.AddressInfo).port}`
  })
}

const campaign = {
  id: 'cut',
  name: 'Cut',
  type: 'voice' as const,
  status: 'active' as const,
  config: {
    audioFileUrl: 'https://example.test/audio.mp3',
    ivrFlow: {
      startNodeId: 'n1',
      nodes: [{ id: 'n1', type: 'play_audio' as const, audioUrl: 'https://example.test/a.mp3' }],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 10_000,
    maxAttemptsPerContact: 3,
  },
  timezone: 'UTC',
}

/** Most dials inside any [t, t + 1000 ms). */
function worstWindow(times: number[]): number {
  const s = [...times].sort((a, b) => a - b)
  let worst = 0
  let lo = 0
  for (let hi = 0; hi < s.length; hi++) {
    while (s[hi]! - s[lo]! >= 1000) lo++
    worst = Math.max(worst, hi - lo + 1)
  }
  return worst
}

let db: TestDb
let t: TestRedis
beforeAll(async () => {
  ;[db, t] = await Promise.all([createTestDb('pacing'), createTestRedis('pacing'), startWorker()])
})
afterAll(async () => {
  worker.closeAllConnections()
  worker.close()
  await Promise.all([db.drop(), t.cleanup()])
})

/**
 * The Lambdas' path on the local stack for one scenario: its own queue and DLQ, the dialer with
 * the Redis limiter (short deferral horizon, so a raised limit reaches the backlog quickly),
 * deferral to the queue, and the pipe (4 pollers, up to `maxConcurrency`).
 */
async function pacedPipeline(options: {
  name: string
  prefix: string
  limitStore: ReturnType<typeof createLimitStore>
  maxConcurrency?: number
  retryBackoff?: { baseSeconds: number; maxSeconds: number }
}) {
  const { name, prefix } = options
  const { queue, dlq } = await ensureLocalQueues(db.pool, {
    queueName: name,
    dlqName: `${name}-dlq`,
    maxReceiveCount: 3,
    onDeadLetter: recordDeadLetteredTasks,
  })
  const logger = createLogger('dialer-worker', { level: 'SILENT' })
  const dial = createDialer({
    limiter: createResilientLimiter({
      primary: createRedisLimiter({ redis: t.redis, prefix, deferHorizonMs: 3000 }),
      logger,
    }),
    limitStore: options.limitStore,
    worker: createWorkerClient({ url: workerUrl, token: 'x', timeoutMs: 5000 }),
    outcomes: createPgOutcomeRecorder(db.pool),
    marker: createRedisDialMarker({ redis: t.redis, prefix }),
    logger,
    metrics: { addMetric: () => undefined },
    requeue: queueRequeue(queue),
    // deferred tasks come back through this pipe's 0.1 s batching window
    ...deferralTiming(0.1),
  })
  const pipe = new LocalPipe<EnrichedDialTask>({
    name: `${name}-pipe`,
    pool: db.pool,
    source: queue,
    enrich: enrichWith(campaign),
    target: (events) => dial(events),
    batchWindowSeconds: 0.1,
    concurrency: 4,
    ...(options.maxConcurrency ? { maxConcurrency: options.maxConcurrency } : {}),
    ...(options.retryBackoff ? { retryBackoff: options.retryBackoff } : {}),
    stateCheckIntervalMs: 100,
    logger: createLogger('pipe', { level: 'SILENT' }),
  })
  return { queue, dlq, pipe }
}

describe('a CPS cut on the local pipeline (deferral, not failure)', () => {
  it('cut from 100 to 2 CPS with 1,000 queued: nothing dead-letters, every task is dialed once, real failures still reach the DLQ after 3 receives', async () => {
    const prefix = `${t.prefix}cut:`
    await primeLimiter(t.redis, prefix)
    await t.redis.set(`${prefix}cps:limit`, '100')
    const { queue, dlq, pipe } = await pacedPipeline({
      name: 'cut',
      prefix,
      limitStore: createLimitStore({ redis: t.redis, prefix, cacheMs: 100 }),
      // real failures come back fast: if a deferral counted as a receive, the DLQ would fill
      retryBackoff: { baseSeconds: 0.05, maxSeconds: 0.2 },
    })

    const body = (contactId: string, i: number) =>
      JSON.stringify({
        campaignId: 'cut',
        contactId,
        phoneNumber: `+4420794${String(10_000 + i).padStart(5, '0')}`,
        attempts: 0,
      })
    const contacts = Array.from({ length: 1000 }, (_, i) => `c${i}`)
    const all = [...contacts, 'boom-1', 'boom-2']
    for (let i = 0; i < all.length; i += 10)
      await queue.sendBatch(all.slice(i, i + 10).map((c, j) => ({ id: `e${j}`, body: body(c, i + j) })))

    await pipe.start()
    try {
      await vi.waitFor(() => expect(dials.length).toBeGreaterThanOrEqual(150), {
        timeout: 30_000,
        interval: 50,
      })
      await t.redis.set(`${prefix}cps:limit`, '2')
      const cutAt = Date.now()
      // Hold the cut while the backlog is refused over and over (every pending task deferred
      // at least twice): long enough for 3 receives of each to have dead-lettered it before #12.
      await vi.waitFor(
        async () => {
          const { rows } = await db.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM task_outcomes WHERE outcome = 'deferred' AND at > to_timestamp($1 / 1000.0)`,
            [cutAt],
          )
          expect(Date.now() - cutAt).toBeGreaterThan(6000)
          expect(Number(rows[0]!.n)).toBeGreaterThan(1000)
        },
        { timeout: 60_000, interval: 200 },
      )
      const raisedAt = Date.now()
      const duringCut = dials.filter((d) => d.at >= cutAt + 2000 && d.at < raisedAt).map((d) => d.at)
      expect(duringCut.length).toBeGreaterThan(0)
      expect(worstWindow(duringCut)).toBeLessThanOrEqual(2)
      await t.redis.set(`${prefix}cps:limit`, '500')

      await vi.waitFor(() => expect(new Set(dials.map((d) => d.contactId)).size).toBe(contacts.length), {
        timeout: 60_000,
        interval: 200,
      })
      await vi.waitFor(async () => expect((await dlq.depth()).visible).toBe(2), {
        timeout: 30_000,
        interval: 100,
      })
    } finally {
      await pipe.close()
    }
    // every task dialed exactly once
    const perContact = new Map<string, number>()
    for (const d of dials) perContact.set(d.contactId, (perContact.get(d.contactId) ?? 0) + 1)
    expect([...perContact.values()].every((n) => n === 1)).toBe(true)
    // only the real failures dead-lettered, after 3 receives each, with their dlq outcome
    const dead = await dlq.peek(10)
    expect(dead.map((m) => (JSON.parse(m.body) as { contactId: string }).contactId).sort()).toEqual([
      'boom-1',
      'boom-2',
    ])
    expect(dead.map((m) => m.receiveCount)).toEqual([3, 3])
    const { rows } = await db.pool.query<{ contact_id: string }>(
      `SELECT contact_id FROM task_outcomes WHERE outcome = 'dlq' ORDER BY contact_id`,
    )
    expect(rows.map((r) => r.contact_id)).toEqual(['boom-1', 'boom-2'])
  })

  it('Redis restarted mid-run (every key lost): the limit comes back from PostgreSQL, not MAX_CPS, and no 1000 ms window at the worker goes over it', async () => {
    const prefix = `${t.prefix}restart:`
    const LIMIT = 5
    const store = createLimitStore({ redis: t.redis, prefix, db: db.pool, defaultLimit: 100, cacheMs: 100 })
    await store.setLimit(LIMIT, { actor: 'alice', reason: 'carrier asked', source: 'cli' })
    await primeLimiter(t.redis, prefix)
    const { queue, dlq, pipe } = await pacedPipeline({
      name: 'restart',
      prefix,
      // the dialer's own store, as dialerDeps builds it: MAX_CPS 100, PostgreSQL behind Redis
      limitStore: createLimitStore({ redis: t.redis, prefix, db: db.pool, defaultLimit: 100, cacheMs: 100 }),
      maxConcurrency: 8,
    })
    const contacts = Array.from({ length: 40 }, (_, i) => `r${i}`)
    for (let i = 0; i < contacts.length; i += 10)
      await queue.sendBatch(
        contacts.slice(i, i + 10).map((c, j) => ({
          id: `e${j}`,
          body: JSON.stringify({
            campaignId: 'cut',
            contactId: c,
            phoneNumber: `+4420795${String(10_000 + i + j).padStart(5, '0')}`,
            attempts: 0,
          }),
        })),
      )
    const mine = () => dials.filter((d) => d.contactId.startsWith('r'))
    await pipe.start()
    try {
      await vi.waitFor(() => expect(mine().length).toBeGreaterThanOrEqual(10), {
        timeout: 30_000,
        interval: 50,
      })
      // a restart without persistence: the limit, the limiter's next free slot, the markers — gone
      const keys = await t.redis.keys(`${prefix}*`)
      expect(keys).toContain(`${prefix}cps:limit`)
      await t.redis.del(...keys)
      const lostAt = Date.now()
      await vi.waitFor(() => expect(new Set(mine().map((d) => d.contactId)).size).toBe(contacts.length), {
        timeout: 60_000,
        interval: 100,
      })
      // restored from PostgreSQL by the dialer's next read, not the default 100
      expect(await t.redis.get(`${prefix}cps:limit`)).toBe(String(LIMIT))
      expect(mine().filter((d) => d.at > lostAt).length).toBeGreaterThan(10)
    } finally {
      await pipe.close()
    }
    expect(worstWindow(mine().map((d) => d.at))).toBeLessThanOrEqual(LIMIT)
    const perContact = new Map<string, number>()
    for (const d of mine()) perContact.set(d.contactId, (perContact.get(d.contactId) ?? 0) + 1)
    expect([...perContact.values()].every((n) => n === 1)).toBe(true)
    expect((await dlq.depth()).visible).toBe(0)
  })
})
