import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LocalStack } from '../../local/stack.js'
import { DEFAULT_QUEUE_NAME } from '../../src/queue/pg-queue.js'
import {
  captureOutput,
  checkConservation,
  makeTasks,
  queueContacts,
  openScenario,
  pushBodies,
  scanLogs,
  startStack,
  taskKey,
  waitDrained,
  type ScenarioEnv,
} from './helpers/harness.js'
import { recordResult } from './helpers/results.js'

/**
 * At-least-once delivery, twice over: (1) every task body sent twice — side by side (same batch)
 * and far apart (different, concurrent batches); (2) a visibility timeout shorter than a batch's
 * processing, so the queue hands the same message to another poller while the first still works
 * on it. Either way each contact attempt must be dialed once: the dial markers and the worker's
 * unique call row (campaign, contact, attempt) refuse the second.
 */
describe('fault: every message delivered twice', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()
  const phones: string[] = []

  beforeAll(async () => {
    env = await openScenario('redeliver')
    stack = await startStack(
      env,
      { maxCps: 50, pipeConcurrency: 4, visibilityTimeoutSeconds: 10, retryBaseSeconds: 1 },
      { WORKER_TOKEN: token },
    )
  })

  afterAll(async () => {
    await stack?.stop()
    logs.stop()
    expect(scanLogs(logs.text(), phones, [token])).toEqual([])
    await env?.cleanup()
  })

  const duplicatesRecorded = async (contactPrefix: string) => {
    const { rows } = await env.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM task_outcomes WHERE outcome = 'duplicate' AND contact_id LIKE $1`,
      [`${contactPrefix}-%`],
    )
    return Number(rows[0]!.n)
  }

  it('each body sent twice: dialed once', async () => {
    const started = Date.now()
    const tasks = makeTasks(80, 'twice', { offset: 0 })
    // the dial gate dials only contacts that exist, at their next attempt
    await queueContacts(env.db, tasks)
    phones.push(...tasks.map((t) => t.phoneNumber))
    const bodies = tasks.map((t) => JSON.stringify(t))
    // first half side by side (same batch), second half 40 messages apart (other batches)
    const half = bodies.slice(0, 40)
    const rest = bodies.slice(40)
    const order = [...half.flatMap((b) => [b, b]), ...rest, ...rest]
    const pushed = (await pushBodies(stack!.queue, order)).map((p) => {
      const t = JSON.parse(p.body) as { campaignId: string; contactId: string }
      return { ...p, key: taskKey(t) }
    })
    await waitDrained(env.db, { timeoutMs: 90_000 })
    await stack!.worker.idle()
    const seconds = (Date.now() - started) / 1000

    const c = await checkConservation(env.db, pushed)
    const duplicates = await duplicatesRecorded('twice')
    recordResult({
      scenario: 'redelivery: each body sent twice',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `${pushed.length} messages for ${c.tasks} tasks; ${duplicates} second deliveries recognised as duplicates`,
    })
    expect(c.tasks).toBe(80)
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.remaining).toBe(0)
    expect(c.outcomes).toEqual({ dialed: 80 })
    // every second copy was recognised (marker, same batch, or the worker's row), none dialed —
    // or dropped as blacklisted when the first copy's callee pressed the opt-out key
    const { rows: optOut } = await env.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM task_outcomes WHERE contact_id LIKE 'twice-%' AND outcome = 'dropped' AND reason = 'blacklisted'`,
    )
    expect(duplicates + Number(optOut[0]!.n)).toBe(80)
  })

  it('visibility timeout shorter than the processing: dialed once', async () => {
    // 0.5 s visibility while a batch waits up to ~1 s for its CPS slots: the queue redelivers
    // messages still being processed. maxReceiveCount is raised so the expected redeliveries do
    // not also dead-letter dialed tasks (that is the redrive policy's business, not the point here).
    await env.db.query(
      'UPDATE queues SET visibility_timeout_seconds = 0.5, max_receive_count = 20 WHERE name = $1',
      [DEFAULT_QUEUE_NAME],
    )
    await stack!.pipe.close()
    const started = Date.now()
    const tasks = makeTasks(60, 'vis', { offset: 100 })
    // the dial gate dials only contacts that exist, at their next attempt
    await queueContacts(env.db, tasks)
    phones.push(...tasks.map((t) => t.phoneNumber))
    const pushed = (
      await pushBodies(
        stack!.queue,
        tasks.map((t) => JSON.stringify(t)),
      )
    ).map((p, i) => ({ ...p, key: taskKey(tasks[i]!) }))
    // a slower limit: each batch of 10 waits for its slots longer than the visibility timeout
    await env.testRedis.redis.set(`${env.prefix}cps:limit`, '8')
    await stack!.pipe.start()
    await waitDrained(env.db, { timeoutMs: 90_000 })
    await stack!.worker.idle()
    const seconds = (Date.now() - started) / 1000

    const { rows } = await env.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM task_outcomes WHERE contact_id LIKE 'vis-%' AND outcome IN ('dialed', 'duplicate', 'rate_limited')`,
    )
    const c = await checkConservation(env.db, pushed)
    const duplicates = await duplicatesRecorded('vis')
    recordResult({
      scenario: 'redelivery: visibility < processing',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `${rows[0]!.n} deliveries handled for ${c.tasks} tasks; ${duplicates} redeliveries of dialed tasks refused`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.remaining).toBe(0)
    // the fault happened: some message was delivered again after its dial
    expect(duplicates).toBeGreaterThan(0)
  })
})
