import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import net from 'node:net'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { Redis } from 'ioredis'
import { DeleteMessageBatchCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { sleep } from '../../src/clock.js'
import { EnrichedDialTask } from '../../src/contracts/index.js'
import { createRedisDialMarker } from '../../src/dialer/dial-marker.js'
import { createDialer, createInProcessDialer, dialerDeps } from '../../src/dialer/create-dialer.js'
import type { DialerDeps } from '../../src/dialer/handle-batch.js'
import {
  createPgOutcomeRecorder,
  realSleep,
  type MetricsPort,
  queueRequeue,
  type TaskRequeue,
} from '../../src/dialer/ports.js'
import { ensureLocalQueues } from '../../src/queue/pg-queue.js'
import { SqsQueue } from '../../src/queue/sqs-queue.js'
import { createWorkerClient } from '../../src/dialer/worker-client.js'
import { createLogger } from '../../src/observability/logger.js'
import { createResilientLimiter } from '../../src/pacing/degraded.js'
import { readCpsHistory } from '../../src/pacing/history.js'
import { createLimitStore } from '../../src/pacing/limit-store.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { primeLimiter } from '../helpers/pacing.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

// ---- a tiny stand-in for the worker's POST /dial; the contact id picks its answer
interface Received {
  auth: string | undefined
  body: Record<string, unknown>
}
let worker: Server
let workerUrl: string
const received: Received[] = []

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of req) text += chunk
  return JSON.parse(text) as Record<string, unknown>
}

function startWorker(): Promise<void> {
  worker = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req)
      received.push({ auth: req.headers.authorization, body })
      const contact = String(body.contactId)
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(json))
      }
      // the real worker's answers (worker/app.ts admitLocally), Retry-After included
      const replyAfter = (status: number, retryAfter: string, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': retryAfter })
        res.end(JSON.stringify(json))
      }
      if (contact.startsWith('busy429'))
        return replyAfter(429, '2', {
          error: 'worker_at_capacity',
          message: 'worker runs 50 of 50 calls; retry later',
        })
      if (contact.startsWith('busy503'))
        return replyAfter(503, '1', { error: 'draining', message: 'worker is shutting down; retry later' })
      if (contact.startsWith('sick503'))
        return replyAfter(503, '5', {
          error: 'unavailable',
          message: 'telephony driver sim is not healthy; retry later',
        })
      if (contact.startsWith('boom')) return reply(500, { error: 'internal', message: 'ARI down' })
      if (contact.startsWith('dup')) return reply(200, { callId: body.callId, duplicate: true })
      if (contact.startsWith('black'))
        return reply(409, { callId: body.callId, error: 'blacklisted', message: 'never dialed' })
      if (contact.startsWith('slow')) {
        // never answers in time: the reply waits until the dialer has given up (closed the request)
        await once(res, 'close')
        return
      }
      reply(202, { callId: body.callId, status: 'accepted' })
    })()
  })
  worker.listen(0, '127.0.0.1')
  return once(worker, 'listening').then(() => {
    workerUrl = `http://127.0.0.1:${(worker.address() as net.AddressInfo).port}`
  })
}

// ---- tasks
const campaign = {
  id: 'c1',
  name: 'Donation Drive 2024',
  type: 'voice' as const,
  status: 'active' as const,
  config: {
    audioFileUrl: 'https://example.test/audio.mp3',
    ivrFlow: {
      startNodeId: 'node-1',
      nodes: [
        {
          id: 'node-1',
          type: 'play_audio' as const,
          audioUrl: 'https://example.test/a.mp3',
          nextNodeId: 'node-2',
        },
        {
          id: 'node-2',
          type: 'capture_input' as const,
          timeout: 10,
          validInputs: ['1'],
          actions: { '1': { type: 'trigger_donation', parameters: {} } },
        },
      ],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 100,
    maxAttemptsPerContact: 3,
  },
  timezone: 'Asia/Jerusalem',
}

let seq = 0
function task(contactId: string, overrides: Partial<EnrichedDialTask> = {}): EnrichedDialTask {
  seq++
  return {
    campaignId: 'c1',
    contactId,
    phoneNumber: `+97250123${String(4000 + seq).padStart(4, '0')}`,
    metadata: { firstName: 'John' },
    attempts: 0,
    campaign,
    enrichedAt: '2024-01-15T10:30:00.000Z',
    messageId: `m-${contactId}`,
    ...overrides,
  }
}

// ---- ports
function memoryMetrics() {
  const values: Record<string, number> = {}
  const port: MetricsPort = {
    addMetric(name, _unit, value) {
      values[name] = (values[name] ?? 0) + value
    },
  }
  return { port, values }
}

let t: TestRedis
let db: TestDb
beforeAll(async () => {
  ;[t, db] = await Promise.all([createTestRedis('dialer'), createTestDb('dialer'), startWorker()])
})
afterAll(async () => {
  worker.closeAllConnections()
  worker.close()
  await Promise.all([t.cleanup(), db.drop()])
})

let prefixSeq = 0
/** Real adapters (Redis, PostgreSQL, HTTP); each test its own key prefix. */
async function setup(
  options: {
    limit?: number
    timeoutMs?: number
    redis?: Redis
    url?: string
    requeue?: TaskRequeue
    holdMs?: number
    returnEarlyMs?: number
  } = {},
) {
  const prefix = `${t.prefix}${++prefixSeq}:`
  // a limiter that has been running (a fresh one pauses a horizon first: see limiter.test.ts)
  await primeLimiter(t.redis, prefix)
  const redis = options.redis ?? t.redis
  const logger = createLogger('dialer-worker', { level: 'SILENT' })
  const metrics = memoryMetrics()
  const delays: number[] = []
  let records = 0
  const pg = createPgOutcomeRecorder(db.pool)
  const deps: DialerDeps = {
    limiter: createResilientLimiter({
      primary: createRedisLimiter({ redis, prefix }),
      degradedCps: 5,
      logger,
    }),
    limitStore: createLimitStore({ redis, prefix, defaultLimit: options.limit ?? 100 }),
    worker: createWorkerClient({
      url: options.url ?? workerUrl,
      token: 'secret-token',
      timeoutMs: options.timeoutMs ?? 2000,
    }),
    outcomes: {
      record: (o) => {
        records++
        return pg.record(o)
      },
    },
    marker: createRedisDialMarker({ redis, prefix }),
    logger,
    metrics: metrics.port,
    sleep: (ms) => {
      delays.push(ms)
      return realSleep(ms)
    },
    ...(options.requeue ? { requeue: options.requeue } : {}),
    // Refused tasks deferred at once, back at their slot: the deferral path alone. Holding and
    // returning early (a pipe with a batching window) are tested in dialer-hold.test.ts.
    holdMs: options.holdMs ?? 0,
    returnEarlyMs: options.returnEarlyMs ?? 0,
  }
  return {
    deps,
    dial: createDialer(deps),
    logger,
    metrics: metrics.values,
    delays,
    prefix,
    records: () => records,
  }
}

async function outcomesOf(messageIds: string[]) {
  const { rows } = await db.pool.query<{
    message_id: string
    outcome: string
    reason: string | null
    call_id: string | null
  }>(
    `SELECT message_id, outcome, reason, call_id FROM task_outcomes WHERE message_id = ANY($1) ORDER BY id`,
    [messageIds],
  )
  return rows
}

function postsFor(contactPrefix: string) {
  return received.filter((r) => String(r.body.contactId).startsWith(contactPrefix))
}

describe('dialer handler', () => {
  it('POSTs the DialCommand with the bearer token and records the tasks dialed (one insert per batch)', async () => {
    const s = await setup()
    // INFO on, so the dialer builds the line; the spy keeps it out of the test's output
    s.logger.setLogLevel('INFO')
    const info = vi.spyOn(s.logger, 'info').mockImplementation(() => undefined)
    const batch = [task('ok-a1'), task('ok-a2', { attempts: 2 }), task('ok-a3')]
    const res = await s.dial(batch)

    expect(res).toEqual({ batchItemFailures: [] })
    const posts = postsFor('ok-a')
    expect(posts).toHaveLength(3)
    expect(posts.every((p) => p.auth === 'Bearer secret-token')).toBe(true)
    const second = posts.find((p) => p.body.contactId === 'ok-a2')!.body
    expect(second).toEqual({
      callId: 'call.c1.ok-a2.2',
      phoneNumber: batch[1]!.phoneNumber,
      campaignId: 'c1',
      contactId: 'ok-a2',
      audioFileUrl: 'https://example.test/audio.mp3',
      ivrFlow: campaign.config.ivrFlow,
      metadata: { firstName: 'John' },
      attempt: 2,
      maxConcurrentCalls: 100,
      // added with #12: the slot's absolute time (epoch ms) and its limit; the worker originates
      // at the slot through its trunk gate
      notBefore: expect.any(Number) as number,
      cpsLimit: 100,
    })
    expect(await outcomesOf(batch.map((b) => b.messageId))).toEqual([
      { message_id: 'm-ok-a1', outcome: 'dialed', reason: null, call_id: 'call.c1.ok-a1.0' },
      { message_id: 'm-ok-a2', outcome: 'dialed', reason: null, call_id: 'call.c1.ok-a2.2' },
      { message_id: 'm-ok-a3', outcome: 'dialed', reason: null, call_id: 'call.c1.ok-a3.0' },
    ])
    expect(s.records()).toBe(1)
    expect(s.metrics).toMatchObject({
      DialedTasks: 3,
      RateLimitedTasks: 0,
      DialerWorkerErrors: 0,
      RedisDegradedMode: 0,
    })
    expect(s.metrics.CurrentCPS).toBeGreaterThanOrEqual(1)
    // the seed's log line, phone number masked
    const sent = info.mock.calls.find(
      (c) =>
        c[0] === 'Dial command sent successfully' && (c[1] as { contactId: string }).contactId === 'ok-a2',
    )
    expect(sent![1]).toEqual({
      callId: 'call.c1.ok-a2.2',
      campaignId: 'c1',
      contactId: 'ok-a2',
      attempt: 2,
      phoneNumber: '+' + '*'.repeat(batch[1]!.phoneNumber.length - 3) + batch[1]!.phoneNumber.slice(-2),
    })
  })

  it('below INFO the per-task lines are not built at all (issue #17: no masked number for nothing)', async () => {
    const s = await setup()
    const info = vi.spyOn(s.logger, 'info')
    expect(await s.dial([task('quiet-a1'), task('quiet-a2')])).toEqual({ batchItemFailures: [] })
    expect(postsFor('quiet-a')).toHaveLength(2)
    expect(info).not.toHaveBeenCalledWith('Dial command sent successfully', expect.anything())
  })

  it('admits k of n at the live limit, spread over the second; the rest are rate-limited and retried', async () => {
    const s = await setup()
    await t.redis.set(`${s.prefix}cps:limit`, '3')
    const batch = Array.from({ length: 10 }, (_, i) => task(`ok-b${i}`))
    const res = await s.dial(batch)

    expect(postsFor('ok-b').map((p) => p.body.contactId)).toEqual(['ok-b0', 'ok-b1', 'ok-b2'])
    expect(res.batchItemFailures).toEqual(batch.slice(3).map((b) => ({ itemIdentifier: b.messageId })))
    // slots one third of a second apart, not a burst; each POST leaves 200 ms before its slot
    // (changed with #12: the worker originates at the command's notBefore)
    expect(s.delays.map(Math.round)).toEqual([0, 133, 467])
    const slots = postsFor('ok-b').map((p) => p.body.notBefore as number)
    expect(slots[1]! - slots[0]!).toBeCloseTo(333.334, 2)
    expect(slots[2]! - slots[1]!).toBeCloseTo(333.334, 2)
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.filter((r) => r.outcome === 'dialed')).toHaveLength(3)
    expect(rows.filter((r) => r.outcome === 'rate_limited').map((r) => r.reason)).toEqual(
      Array(7).fill('limit 3 CPS (redis)'),
    )
    expect(s.metrics).toMatchObject({ DialedTasks: 3, RateLimitedTasks: 7, DialerWorkerErrors: 0 })
    const history = await readCpsHistory(t.redis, 10, { prefix: s.prefix })
    expect(history.rateLimited).toBe(7)
  })

  it('deferral: refused tasks go back to the queue delayed to their next slot, reported handled, not failed', async () => {
    const { queue } = await ensureLocalQueues(db.pool, {
      queueName: `defer-${prefixSeq}`,
      dlqName: `defer-${prefixSeq}-dlq`,
    })
    const s = await setup({ requeue: queueRequeue(queue) })
    await t.redis.set(`${s.prefix}cps:limit`, '3')
    const batch = Array.from({ length: 10 }, (_, i) => task(`defer-f${i}`))
    const res = await s.dial(batch)
    // deferred tasks are not batch item failures: they spend no receive, never reach the DLQ
    expect(res).toEqual({ batchItemFailures: [] })
    expect(postsFor('defer-f')).toHaveLength(3)
    // each re-sent as the DialTask the queue carried (no enrichment), attempts unchanged,
    // visible at the limiter's next free slots: 1000, 1333, 1667, 2000, … ms, to the nearest
    // whole second (SQS DelaySeconds; a task back up to 0.5 s early is within the 1 s horizon)
    const again = await queue.peek(10)
    const bodies = again.map((m) => JSON.parse(m.body) as { deferredUntil?: number })
    expect(bodies).toEqual(
      batch.slice(3).map(({ campaignId, contactId, phoneNumber, metadata, attempts }) => ({
        campaignId,
        contactId,
        phoneNumber,
        metadata,
        attempts,
        deferredUntil: expect.any(Number) as number,
      })),
    )
    // each stamped with the slot promised to it: the limiter's next free slots, 1/3 s apart
    const promised = bodies.map((b) => b.deferredUntil!)
    for (const gap of promised.slice(1).map((p, i) => p - promised[i]!)) expect([333, 334]).toContain(gap)
    expect(again.map((m) => m.receiveCount)).toEqual(Array(7).fill(0))
    const delays = again.map((m) => Math.round((Number(m.attributes!.VisibleAt) - m.sentAt.getTime()) / 1000))
    expect(delays).toEqual([1, 1, 2, 2, 2, 3, 3])
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.filter((r) => r.outcome === 'deferred').map((r) => r.reason)).toEqual([
      ...Array(2).fill('limit 3 CPS (redis): back in 1 s at its next slot'),
      ...Array(3).fill('limit 3 CPS (redis): back in 2 s at its next slot'),
      ...Array(2).fill('limit 3 CPS (redis): back in 3 s at its next slot'),
    ])
    expect(s.metrics).toMatchObject({ DialedTasks: 3, RateLimitedTasks: 7, DialerWorkerErrors: 0 })
  })

  it('deferral: a queue that cannot take the re-sent tasks leaves them ordinary retries (nothing lost)', async () => {
    const s = await setup({
      requeue: { requeue: (entries) => Promise.resolve({ failed: entries.slice(0, 2).map((e) => e.id) }) },
    })
    await t.redis.set(`${s.prefix}cps:limit`, '1')
    const batch = Array.from({ length: 4 }, (_, i) => task(`defer-g${i}`))
    const res = await s.dial(batch)
    // 1 admitted; of the 3 refused, the first 2 could not be re-sent: retried as before
    expect(res.batchItemFailures).toEqual([
      { itemIdentifier: 'm-defer-g1' },
      { itemIdentifier: 'm-defer-g2' },
    ])
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.map((r) => [r.message_id, r.outcome])).toEqual([
      ['m-defer-g0', 'dialed'],
      ['m-defer-g1', 'rate_limited'],
      ['m-defer-g2', 'rate_limited'],
      ['m-defer-g3', 'deferred'],
    ])
    const thrown = await setup({ requeue: { requeue: () => Promise.reject(new Error('SQS down')) } })
    await t.redis.set(`${thrown.prefix}cps:limit`, '1')
    const res2 = await thrown.dial([task('defer-h0'), task('defer-h1')])
    expect(res2.batchItemFailures).toEqual([{ itemIdentifier: 'm-defer-h1' }])
  })

  it('worker 429 / 503 draining: deferred by its Retry-After, spending no receive; a 503 for a sick driver is a real failure', async () => {
    const { queue } = await ensureLocalQueues(db.pool, {
      queueName: `busy-${prefixSeq}`,
      dlqName: `busy-${prefixSeq}-dlq`,
    })
    const s = await setup({ requeue: queueRequeue(queue) })
    const batch = [task('busy429-c'), task('busy503-c'), task('sick503-c'), task('ok-c')]
    const res = await s.dial(batch)
    // only the sick worker's 503 is retried (it counts toward the DLQ): capacity and draining
    // are states of the worker, the task itself is fine
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-sick503-c' }])
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.map((r) => [r.message_id, r.outcome, r.reason])).toEqual([
      [
        'm-busy429-c',
        'deferred',
        'worker 429: worker_at_capacity: worker runs 50 of 50 calls; retry later: back in 2 s (Retry-After)',
      ],
      [
        'm-busy503-c',
        'deferred',
        'worker 503: draining: worker is shutting down; retry later: back in 1 s (Retry-After)',
      ],
      [
        'm-sick503-c',
        'failed',
        'worker answered 503 unavailable: telephony driver sim is not healthy; retry later',
      ],
      ['m-ok-c', 'dialed', null],
    ])
    // re-sent as the DialTask the queue carried, attempts unchanged, visible after Retry-After
    const again = await queue.peek(10)
    expect(again.map((m) => (JSON.parse(m.body) as { contactId: string }).contactId)).toEqual([
      'busy429-c',
      'busy503-c',
    ])
    expect(again.map((m) => (JSON.parse(m.body) as { attempts: number }).attempts)).toEqual([0, 0])
    expect(again.map((m) => m.receiveCount)).toEqual([0, 0])
    const delays = again.map((m) => Math.round((Number(m.attributes!.VisibleAt) - m.sentAt.getTime()) / 1000))
    expect(delays).toEqual([2, 1])
    expect(s.metrics).toMatchObject({ DialedTasks: 1, RateLimitedTasks: 2, DialerWorkerErrors: 1 })

    // without a queue to defer to (DIAL_TASKS_QUEUE_URL unset) a busy worker is a plain retry
    const bare = await setup()
    const res2 = await bare.dial([task('busy429-d'), task('ok-busy-d')])
    expect(res2.batchItemFailures).toEqual([{ itemIdentifier: 'm-busy429-d' }])
    expect((await outcomesOf(['m-busy429-d'])).map((r) => r.outcome)).toEqual(['rate_limited'])
  })

  it('worker 429 on the Lambda path: the SQS adapter re-sends the task with SendMessageBatch (exact input), no DeleteMessage (the pipe deletes the handled copy)', async () => {
    const sqs = mockClient(SQSClient)
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: 't0', MessageId: 'new-1', MD5OfMessageBody: 'x' }],
      Failed: [],
    })
    const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dial-tasks'
    const queue = new SqsQueue({ client: new SQSClient({ region: 'eu-west-1' }), queueUrl })
    try {
      const s = await setup({ requeue: queueRequeue(queue) })
      const busy = task('busy429-sqs')
      const res = await s.dial([busy, task('ok-sqs')])
      expect(res).toEqual({ batchItemFailures: [] })
      expect(sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input)).toEqual([
        {
          QueueUrl: queueUrl,
          Entries: [
            {
              Id: 't0',
              MessageBody: JSON.stringify({
                campaignId: 'c1',
                contactId: 'busy429-sqs',
                phoneNumber: busy.phoneNumber,
                metadata: { firstName: 'John' },
                attempts: 0,
              }),
              DelaySeconds: 2,
            },
          ],
        },
      ])
      expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0)
      expect((await outcomesOf([busy.messageId])).map((r) => r.outcome)).toEqual(['deferred'])
    } finally {
      sqs.restore()
    }
  })

  it('worker timeout or 5xx: that task failed and retried, the rest of the batch goes on (scenario 3)', async () => {
    const s = await setup({ timeoutMs: 300 })
    const error = vi.spyOn(s.logger, 'error')
    const batch = [task('slow-d'), task('boom-d'), task('ok-d')]
    const res = await s.dial(batch)
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-slow-d' }, { itemIdentifier: 'm-boom-d' }])
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.map((r) => [r.message_id, r.outcome, r.reason])).toEqual([
      ['m-slow-d', 'failed', 'worker did not answer POST /dial within 300 ms'],
      ['m-boom-d', 'failed', 'worker answered 500 internal: ARI down'],
      ['m-ok-d', 'dialed', null],
    ])
    expect(s.metrics).toMatchObject({ DialedTasks: 1, DialerWorkerErrors: 2 })
    expect(error).toHaveBeenCalledWith(
      'Dial command failed; task returned for retry',
      expect.objectContaining({
        callId: 'call.c1.slow-d.0',
        error: 'worker did not answer POST /dial within 300 ms',
      }),
    )
  })

  it('on AWS, a task retried on its last receive is warned of at WARN with its reason and dialctl dlq list; earlier receives and dials are not', async () => {
    const s = await setup()
    const warn = vi.spyOn(s.logger, 'warn')
    const dial = createDialer({ ...s.deps, maxReceiveCount: 5 })
    const batch = [
      task('boom-last', { receiveCount: 5 }),
      task('boom-early', { receiveCount: 4 }),
      task('ok-last', { receiveCount: 5 }),
    ]
    const res = await dial(batch)
    expect(res.batchItemFailures).toEqual([
      { itemIdentifier: 'm-boom-last' },
      { itemIdentifier: 'm-boom-early' },
    ])
    const dlqWarnings = warn.mock.calls.filter(([message]) => String(message).includes('dead-letter queue'))
    expect(dlqWarnings).toEqual([
      [
        'Task failed its last receive (5 of maxReceiveCount 5): SQS moves it to the dead-letter queue; inspect with: dialctl dlq list',
        expect.objectContaining({
          messageId: 'm-boom-last',
          receiveCount: 5,
          reason: 'failed: worker answered 500 internal: ARI down',
          next: 'dialctl dlq list',
        }),
      ],
    ])
    // without maxReceiveCount (the local stack: the queue logs the move itself) nothing is said
    warn.mockClear()
    await s.dial([task('boom-local', { receiveCount: 9 })])
    expect(warn.mock.calls.filter(([message]) => String(message).includes('dead-letter queue'))).toEqual([])
  })

  it('worker unreachable: failed and retried, with where it tried', async () => {
    const server = net.createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    await new Promise((r) => server.close(r))
    const s = await setup({ url: `http://127.0.0.1:${port}` })
    const res = await s.dial([task('ok-e')])
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-ok-e' }])
    const [row] = await outcomesOf(['m-ok-e'])
    expect(row!.outcome).toBe('failed')
    expect(row!.reason).toBe(`worker unreachable at http://127.0.0.1:${port}/dial: ECONNREFUSED`)
  })

  it('worker says duplicate: recorded duplicate, not a failure', async () => {
    const s = await setup()
    const res = await s.dial([task('dup-f')])
    expect(res).toEqual({ batchItemFailures: [] })
    const [row] = await outcomesOf(['m-dup-f'])
    expect(row).toMatchObject({
      outcome: 'duplicate',
      reason: 'worker: already dialed',
      call_id: 'call.c1.dup-f.0',
    })
  })

  it('worker refuses a blacklisted number (409): dropped with the reason, not retried', async () => {
    const s = await setup()
    const res = await s.dial([task('black-z'), task('ok-z')])
    expect(res).toEqual({ batchItemFailures: [] })
    const [row] = await outcomesOf(['m-black-z'])
    expect(row).toMatchObject({ outcome: 'dropped', reason: 'blacklisted', call_id: 'call.c1.black-z.0' })
  })

  it('a redelivered batch is not dialed twice and takes no CPS slot', async () => {
    const s = await setup()
    const batch = [task('ok-g1'), task('ok-g2')]
    await s.dial(batch)
    const admittedBefore = (await readCpsHistory(t.redis, 10, { prefix: s.prefix })).admitted
    expect(admittedBefore).toBe(2)

    const again = await s.dial(batch)
    expect(again).toEqual({ batchItemFailures: [] })
    expect(postsFor('ok-g')).toHaveLength(2)
    expect((await readCpsHistory(t.redis, 10, { prefix: s.prefix })).admitted).toBe(2)
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.map((r) => [r.message_id, r.outcome, r.reason])).toEqual([
      ['m-ok-g1', 'dialed', null],
      ['m-ok-g2', 'dialed', null],
      ['m-ok-g1', 'duplicate', 'already dialed (marker)'],
      ['m-ok-g2', 'duplicate', 'already dialed (marker)'],
    ])
    // the next attempt of the same contact is a new dial
    await s.dial([task('ok-g1', { attempts: 1, messageId: 'm-ok-g1-retry' })])
    expect(postsFor('ok-g')).toHaveLength(3)
  })

  it('the same task twice in one batch is dialed once', async () => {
    const s = await setup()
    const one = task('ok-h')
    const res = await s.dial([one, { ...one, messageId: 'm-ok-h-copy' }])
    expect(res).toEqual({ batchItemFailures: [] })
    expect(postsFor('ok-h')).toHaveLength(1)
    expect((await outcomesOf(['m-ok-h-copy']))[0]).toMatchObject({
      outcome: 'duplicate',
      reason: 'same task twice in one batch',
    })
  })

  it('an invalid task is failed naming the field; an item without messageId fails the whole batch', async () => {
    const s = await setup()
    const bad = { ...task('ok-i'), phoneNumber: '0501234567', messageId: 'm-bad-i' }
    const res = await s.dial([bad, task('ok-i2')])
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-bad-i' }])
    const [row] = await outcomesOf(['m-bad-i'])
    expect(row!.outcome).toBe('failed')
    expect(row!.reason).toMatch(/^invalid task: phoneNumber: must be a valid E\.164 phone number/)
    expect(postsFor('ok-i')).toHaveLength(1)

    const { messageId: _drop, ...noId } = task('ok-j')
    await expect(s.dial([task('ok-j0'), noId])).rejects.toThrow(/item 1 has no messageId/)
    await expect(s.dial({ Records: [] })).rejects.toThrow(/the event must be the enrichment's list of tasks/)
    expect(postsFor('ok-j')).toHaveLength(0)
  })

  it('in process (the local pipe): typed tasks are dialed as the Lambda dials its event, without a second parse', async () => {
    const s = await setup()
    const parse = vi.spyOn(EnrichedDialTask, 'safeParse')
    try {
      const batch = [task('ok-p1'), task('ok-p2', { attempts: 1 })]
      expect(await createInProcessDialer(s.deps)(batch)).toEqual({ batchItemFailures: [] })
      expect(parse).not.toHaveBeenCalled()
      expect(
        postsFor('ok-p')
          .map((p) => p.body.callId)
          .sort(),
      ).toEqual(['call.c1.ok-p1.0', 'call.c1.ok-p2.1'])
      expect(await outcomesOf(batch.map((b) => b.messageId))).toEqual([
        { message_id: 'm-ok-p1', outcome: 'dialed', reason: null, call_id: 'call.c1.ok-p1.0' },
        { message_id: 'm-ok-p2', outcome: 'dialed', reason: null, call_id: 'call.c1.ok-p2.1' },
      ])
      // the Lambda's entry still parses what Pipes sends it, once per task
      await s.dial([task('ok-p3')])
      expect(parse).toHaveBeenCalledTimes(1)
    } finally {
      parse.mockRestore()
    }
  })

  it('Redis unreachable: still dials, at the degraded pace, and reports RedisDegradedMode', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const port = (probe.address() as net.AddressInfo).port
    await new Promise((r) => probe.close(r))
    const down = new Redis(`redis://127.0.0.1:${port}`, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      retryStrategy: () => 1000,
    })
    down.on('error', () => {})
    down.connect().catch(() => {})
    const s = await setup({ redis: down })
    const first = Array.from({ length: 8 }, (_, i) => task(`ok-k${i}`))
    // the local line opens one horizon and one interval after the failure (slots Redis granted
    // before it are still dialed until then): this batch goes back to the queue, but for the
    // line's first slot when the dialer's last ask came within a horizon of it (a slow machine)
    const firstFailed = (await s.dial(first)).batchItemFailures.length
    expect(postsFor('ok-k').length).toBeLessThanOrEqual(1)
    expect(firstFailed).toBe(8 - postsFor('ok-k').length)
    const rows = await outcomesOf(first.map((b) => b.messageId))
    expect(rows.filter((r) => r.outcome === 'rate_limited')[0]!.reason).toBe('limit 5 CPS (degraded)')
    // the limiter's own schedule: once the line is open, at most 5 per second
    await sleep(1100)
    const second = Array.from({ length: 8 }, (_, i) => task(`ok-m${i}`))
    const secondFailed = (await s.dial(second)).batchItemFailures.length
    expect(postsFor('ok-m').length).toBeGreaterThanOrEqual(4)
    expect(postsFor('ok-m').length).toBeLessThanOrEqual(5)
    expect(secondFailed).toBe(8 - postsFor('ok-m').length)
    // the test's metrics add up over both batches: each reported degraded mode
    expect(s.metrics).toMatchObject({ RedisDegradedMode: 2 })
    down.disconnect()
  })

  it('emits CloudWatch EMF through Powertools Metrics', async () => {
    const lines: string[] = []
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk))
      return true
    })
    try {
      const metrics = new Metrics({ namespace: 'DialctlTest', serviceName: 'dialer-worker' })
      const s = await setup()
      const deps = { ...s.deps, metrics }
      await createDialer(deps)([task('ok-l')])
      metrics.publishStoredMetrics()
    } finally {
      write.mockRestore()
    }
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('_aws'))
      .map(
        (l) =>
          JSON.parse(l) as {
            _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] }
            [k: string]: unknown
          },
      )
    expect(emf).toHaveLength(1)
    const names = emf[0]!._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)
    expect(names).toEqual(
      expect.arrayContaining([
        'CurrentCPS',
        'RateLimitedTasks',
        'DialerWorkerErrors',
        'RedisDegradedMode',
        'DialedTasks',
      ]),
    )
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Namespace).toBe('DialctlTest')
    expect(emf[0]!.DialedTasks).toBe(1)
  })

  it('dialerDeps wires the real adapters from the Lambda environment', async () => {
    await primeLimiter(t.redis, `${t.prefix}wired:`)
    const logger = createLogger('dialer-worker', { level: 'SILENT' })
    const metrics = memoryMetrics()
    const deps = dialerDeps({
      redis: t.redis,
      db: db.pool,
      logger,
      metrics: metrics.port,
      config: {
        WORKER_URL: workerUrl,
        WORKER_TOKEN: 'secret-token',
        MAX_CPS: 100,
        DEGRADED_CPS: 5,
        WORKER_TIMEOUT_MS: 2000,
        DIALCTL_REDIS_PREFIX: `${t.prefix}wired:`,
      },
    })
    const res = await createDialer(deps)([task('ok-m')])
    expect(res).toEqual({ batchItemFailures: [] })
    expect(await t.redis.exists(`${t.prefix}wired:dial:sent:call.c1.ok-m.0`)).toBe(1)
  })
})

describe('dialer: holding refused tasks for their slot (a pipe with a batching window)', () => {
  it('a batch keeps the refused tasks whose slot is within the hold and dials them at their slots: no deferral', async () => {
    const s = await setup({ holdMs: 3000 })
    await t.redis.set(`${s.prefix}cps:limit`, '5')
    const batch = Array.from({ length: 10 }, (_, i) => task(`hold-a${i}`))
    const res = await s.dial(batch)
    expect(res.batchItemFailures).toEqual([])
    const posts = postsFor('hold-a')
    expect(posts).toHaveLength(10)
    // each at its own slot, 200 ms apart: no 1000 ms window holds more than the limit
    const slots = posts.map((p) => Number(p.body.notBefore)).sort((a, b) => a - b)
    expect(slots.slice(1).map((v, i) => Math.round(v - slots[i]!))).toEqual(Array(9).fill(200))
    const rows = await outcomesOf(batch.map((b) => b.messageId))
    expect(rows.map((r) => r.outcome)).toEqual(Array(10).fill('dialed'))
    expect(s.metrics).toMatchObject({ DialedTasks: 10, RateLimitedTasks: 0 })
  })

  it('tasks beyond the hold go back returnEarlyMs before their promised slot, stamped with it; back early, they wait for it', async () => {
    const { queue } = await ensureLocalQueues(db.pool, {
      queueName: `early-${prefixSeq}`,
      dlqName: `early-${prefixSeq}-dlq`,
    })
    const s = await setup({ requeue: queueRequeue(queue), holdMs: 1500, returnEarlyMs: 2000 })
    await t.redis.set(`${s.prefix}cps:limit`, '1')
    const batch = Array.from({ length: 6 }, (_, i) => task(`early-b${i}`))
    const started = Date.now()
    const res = await s.dial(batch)
    expect(res.batchItemFailures).toEqual([])
    // 1 admitted now, 1 held for the next second's slot (within 1.5 s), 4 deferred (slots 2–5 s)
    expect(postsFor('early-b')).toHaveLength(2)
    const again = await queue.peek(10)
    const bodies = again.map((m) => JSON.parse(m.body) as { contactId: string; deferredUntil: number })
    expect(bodies.map((b) => b.contactId)).toEqual(['early-b2', 'early-b3', 'early-b4', 'early-b5'])
    const promised = bodies.map((b) => b.deferredUntil - started)
    for (const [i, p] of promised.entries()) expect(Math.abs(p - (2 + i) * 1000)).toBeLessThan(400)
    // visible 2 s before the promise (to the nearest whole second): 0, 1, 2, 3 s
    const delays = again.map((m) => Math.round((Number(m.attributes!.VisibleAt) - m.sentAt.getTime()) / 1000))
    expect(delays).toEqual([0, 1, 2, 3])
    // the first comes back at once, 2 s early: the next batch holds it and dials it at its slot
    const back = batch[2]!
    const held = await s.dial([
      { ...back, messageId: 'm-early-b2-again', deferredUntil: bodies[0]!.deferredUntil },
    ])
    expect(held.batchItemFailures).toEqual([])
    const post = postsFor('early-b2')
    expect(post).toHaveLength(1)
    expect(Number(post[0]!.body.notBefore)).toBeGreaterThanOrEqual(bodies[0]!.deferredUntil - 500)
  })

  it('a task back for its slot is not refused by new tasks that came meanwhile (no overtaking)', async () => {
    const { queue } = await ensureLocalQueues(db.pool, {
      queueName: `line-${prefixSeq}`,
      dlqName: `line-${prefixSeq}-dlq`,
    })
    const s = await setup({ requeue: queueRequeue(queue), holdMs: 0, returnEarlyMs: 0 })
    await t.redis.set(`${s.prefix}cps:limit`, '2')
    // 2 admitted, 2 promised the next second's slots
    await s.dial(Array.from({ length: 4 }, (_, i) => task(`line-c${i}`)))
    const promised = (await queue.peek(10)).map((m) => JSON.parse(m.body) as { deferredUntil: number })
    // new tasks arriving before the promised slots are promised later ones, not admitted. (Not
    // fixed sleeps: both waits run to the time the dialer itself promised, deferredUntil, as a
    // re-queued task's delay does; that moment is what the test is about.)
    await sleep(Math.max(0, promised[0]!.deferredUntil - Date.now() - 600))
    await s.dial([task('line-new0'), task('line-new1')])
    expect(postsFor('line-new')).toHaveLength(0)
    // the promised tasks, back at their time, take their slots
    await sleep(Math.max(0, promised[0]!.deferredUntil - Date.now()))
    const res = await s.dial(
      [2, 3].map((i, j) => ({ ...task(`line-c${i}x`), deferredUntil: promised[j]!.deferredUntil })),
    )
    expect(res.batchItemFailures).toEqual([])
    expect(postsFor('line-c2x')).toHaveLength(1)
    expect(postsFor('line-c3x')).toHaveLength(1)
  })
})
