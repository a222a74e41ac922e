import { writeSync } from 'node:fs'
import type pg from 'pg'
import { sleep } from '../../../src/clock.js'
import { DEMO_CAMPAIGN_ID } from '../../../src/local-stack/demo.js'
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../../local/stack.js'
import type { DialTask } from '../../../src/contracts/index.js'
import { DEFAULT_DLQ_NAME, DEFAULT_QUEUE_NAME } from '../../../src/queue/pg-queue.js'
import type { QueuePort } from '../../../src/queue/port.js'
import { isReservedTestNumber, testNumber } from '../../../src/tasks/test-numbers.js'
import { findPhoneLeaks } from '../../helpers/log-scan.js'
import { createTestDb, type TestDb } from '../../helpers/db.js'
import { createTestRedis, type TestRedis } from '../../helpers/redis.js'

/**
 * One scenario's private world: its own PostgreSQL schema and Redis key prefix on the shared
 * servers, an observer pool that talks to PostgreSQL directly (never through a proxy the
 * scenario cuts), and cleanup of all of it.
 */
export interface ScenarioEnv {
  schema: string
  prefix: string
  /** direct pool on the scenario's schema, for setup and for the checks */
  db: pg.Pool
  testDb: TestDb
  testRedis: TestRedis
  cleanup(): Promise<void>
}

export async function openScenario(label: string): Promise<ScenarioEnv> {
  const testDb = await createTestDb(`fault_${label}`)
  const testRedis = await createTestRedis(`fault-${label}`)
  return {
    schema: testDb.schema,
    prefix: testRedis.prefix,
    db: testDb.pool,
    testDb,
    testRedis,
    async cleanup() {
      await testDb.drop().catch(() => {})
      await testRedis.cleanup().catch(() => {})
    },
  }
}

/**
 * startLocalStack on the scenario's schema and prefix. `env` is applied while the stack starts
 * (it reads DATABASE_URL / REDIS_URL / WORKER_TOKEN / DEGRADED_CPS there) and restored after.
 */
export async function startStack(
  env: ScenarioEnv,
  options: LocalStackOptions = {},
  vars: Record<string, string> = {},
): Promise<LocalStack> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return await startLocalStack({
      schema: env.schema,
      redisPrefix: env.prefix,
      workerPort: 0,
      maxCps: 50,
      batchWindowSeconds: 1,
      dispatcher: false,
      announce: false,
      visibilityTimeoutSeconds: 10,
      sim: { speed: 0, answerRate: 0.7, seed: 7 },
      ...options,
    })
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/** `n` tasks of the demo campaign, contact ids `<label>-<i>`, distinct reserved test numbers. */
export function makeTasks(n: number, label: string, options: { offset?: number; campaignId?: string } = {}) {
  const offset = options.offset ?? 0
  return Array.from({ length: n }, (_, i): DialTask => ({
    campaignId: options.campaignId ?? DEMO_CAMPAIGN_ID,
    contactId: `${label}-${i}`,
    phoneNumber: testNumber(offset + i),
    metadata: { firstName: 'Fault', index: i },
    attempts: 0,
  }))
}

/** Creates contact rows for the tasks, as the dispatcher would have left them: queued, attempts 0. */
export async function queueContacts(db: pg.Pool, tasks: DialTask[]): Promise<void> {
  await db.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts)
     SELECT campaign_id, id, phone, 'queued', 0
       FROM unnest($1::text[], $2::text[], $3::text[]) AS t(campaign_id, id, phone)`,
    [tasks.map((t) => t.campaignId), tasks.map((t) => t.contactId), tasks.map((t) => t.phoneNumber)],
  )
}

export interface Pushed {
  body: string
  messageId: string
  /** the task's key (campaign:contact) when the body is a task */
  key?: string
}

/** Sends bodies in batches of 10, in order; returns each body's message id. */
export async function pushBodies(queue: QueuePort, bodies: string[]): Promise<Pushed[]> {
  const out: Pushed[] = []
  for (let i = 0; i < bodies.length; i += 10) {
    const chunk = bodies.slice(i, i + 10)
    const sent = await queue.sendBatch(chunk.map((body, j) => ({ id: String(j), body })))
    if (sent.failed.length) throw new Error(`send failed: ${JSON.stringify(sent.failed)}`)
    for (const s of sent.successful) out.push({ body: chunk[Number(s.id)]!, messageId: s.messageId })
  }
  return out
}

export async function pushTasks(queue: QueuePort, tasks: DialTask[]): Promise<Pushed[]> {
  const pushed = await pushBodies(
    queue,
    tasks.map((t) => JSON.stringify(t)),
  )
  return pushed.map((p, i) => ({ ...p, key: taskKey(tasks[i]!) }))
}

export const taskKey = (t: Pick<DialTask, 'campaignId' | 'contactId'>) => `${t.campaignId}:${t.contactId}`

export interface QueueState {
  visible: number
  inFlight: number
  dlq: number
  openCalls: number
}

/** Read straight from the tables, so it works while the stack's own pool is cut off. */
export async function queueState(db: pg.Pool): Promise<QueueState> {
  const { rows } = await db.query<{ visible: string; in_flight: string; dlq: string; open: string }>(
    `SELECT count(*) FILTER (WHERE queue = $1 AND visible_at <= now()) AS visible,
            count(*) FILTER (WHERE queue = $1 AND visible_at > now()) AS in_flight,
            count(*) FILTER (WHERE queue = $2) AS dlq,
            (SELECT count(*) FROM call_attempts WHERE status = 'dialing') AS open
       FROM queue_messages`,
    [DEFAULT_QUEUE_NAME, DEFAULT_DLQ_NAME],
  )
  const r = rows[0]!
  return {
    visible: Number(r.visible),
    inFlight: Number(r.in_flight),
    dlq: Number(r.dlq),
    openCalls: Number(r.open),
  }
}

/**
 * Waits until the source queue is empty and no call is open, bounded. `openCallsAllowed` lets a
 * scenario wait for the queue alone (calls a killed worker left open are reconciled later).
 */
/**
 * How often the waits below ask again. Faults last until a condition is seen (a log line, a
 * count of failed dials), never a fixed time: a scenario waits with waitFor, not sleep.
 */
const POLL_MS = 100

export async function waitDrained(
  db: pg.Pool,
  options: { timeoutMs: number; openCallsAllowed?: boolean; what?: string },
): Promise<QueueState> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    const state = await queueState(db)
    if (state.visible + state.inFlight === 0 && (options.openCallsAllowed || state.openCalls === 0))
      return state
    if (Date.now() > deadline)
      throw new Error(
        `${options.what ?? 'pipeline'} not drained after ${options.timeoutMs} ms: ${JSON.stringify(state)}`,
      )
    await sleep(POLL_MS)
  }
}

/** Polls until `check` is true, bounded; `what` names it in the error. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(POLL_MS)
  }
}

export async function countAttempts(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM call_attempts')
  return Number(rows[0]!.n)
}

export interface Conservation {
  tasks: number
  /** final outcome per task: dialed / dropped / filtered / dlq */
  outcomes: Record<string, number>
  /** task keys with no final outcome */
  lost: string[]
  /** task keys dialed more than once */
  duplicated: string[]
  /** task keys with more than one final outcome (e.g. dialed and dropped) */
  conflicts: string[]
  /** call rows still 'dialing' */
  openCalls: number
  /** messages still in the source queue */
  remaining: number
  /** drop reasons seen, by task key */
  reasons: Map<string, string>
  /** for every lost / duplicated / conflicting task: its outcome history and call rows */
  details: string
}

/**
 * The conservation law over the recorded facts: call_attempts (the worker's dial rows, unique per
 * contact attempt) and task_outcomes (filtered / dropped with a reason / moved to the DLQ) of the
 * pushed messages. Each task must end in exactly one of them; dialed at most once.
 */
export async function checkConservation(db: pg.Pool, pushed: Pushed[]): Promise<Conservation> {
  const byTask = new Map<string, string[]>()
  for (const p of pushed) {
    const key = p.key ?? `message:${p.messageId}`
    byTask.set(key, [...(byTask.get(key) ?? []), p.messageId])
  }
  const { rows: calls } = await db.query<{ key: string; n: string }>(
    `SELECT campaign_id || ':' || contact_id AS key, count(*) AS n FROM call_attempts GROUP BY 1`,
  )
  const dialed = new Map(calls.map((r) => [r.key, Number(r.n)]))
  const messageIds = pushed.map((p) => p.messageId)
  // A rate-limited task is deferred (issue #12): re-sent as a new message, the received copy
  // deleted. Its final outcome may then stand under the new message id, so finals are matched by
  // the pushed message ids and, for tasks, by (campaign, contact).
  const keyOfMessage = new Map<string, string>()
  for (const [key, ids] of byTask) for (const id of ids) keyOfMessage.set(id, key)
  const taskKeys = [...byTask.keys()].filter((k) => !k.startsWith('message:'))
  const { rows: finals } = await db.query<{
    message_id: string | null
    task_key: string | null
    outcome: string
    reason: string | null
  }>(
    `SELECT message_id, campaign_id || ':' || contact_id AS task_key, outcome, reason FROM task_outcomes
      WHERE (message_id = ANY($1::text[]) OR campaign_id || ':' || contact_id = ANY($2::text[]))
        AND outcome IN ('dropped', 'filtered', 'dlq')
      ORDER BY id`,
    [messageIds, taskKeys],
  )
  const finalByKey = new Map<string, { outcome: string; reason: string | null }[]>()
  for (const f of finals) {
    const key = (f.message_id && keyOfMessage.get(f.message_id)) ?? f.task_key
    if (key) finalByKey.set(key, [...(finalByKey.get(key) ?? []), f])
  }
  // a message the redrive policy moved: its outcome row says so, and so does the DLQ itself
  const { rows: inDlq } = await db.query<{ message_id: string }>(
    'SELECT message_id::text FROM queue_messages WHERE queue = $1 AND message_id = ANY($2::uuid[])',
    [DEFAULT_DLQ_NAME, messageIds],
  )
  const dlqMessages = new Set(inDlq.map((r) => r.message_id))
  const { rows: left } = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM queue_messages WHERE queue = $1 AND message_id = ANY($2::uuid[])',
    [DEFAULT_QUEUE_NAME, messageIds],
  )

  // A callee who pressed the opt-out key was blacklisted by that very call: a redelivered copy of
  // the task is then dropped as blacklisted. That drop follows the dial, it is not a second fate.
  const { rows: opted } = await db.query<{ key: string }>(
    `SELECT a.campaign_id || ':' || a.contact_id AS key FROM call_attempts a
       JOIN blacklist b ON b.phone_number = a.phone_number AND b.source = 'ivr'`,
  )
  const optedOut = new Set(opted.map((r) => r.key))

  const result: Conservation = {
    tasks: byTask.size,
    outcomes: {},
    lost: [],
    duplicated: [],
    conflicts: [],
    openCalls: (await queueState(db)).openCalls,
    remaining: Number(left[0]!.n),
    reasons: new Map(),
    details: '',
  }
  for (const [key, ids] of byTask) {
    const kinds = new Set<string>()
    const n = key.startsWith('message:') ? 0 : (dialed.get(key) ?? 0)
    if (n > 0) kinds.add('dialed')
    if (n > 1) result.duplicated.push(key)
    for (const f of finalByKey.get(key) ?? []) {
      if (n > 0 && optedOut.has(key) && f.outcome === 'dropped' && f.reason === 'blacklisted') continue
      kinds.add(f.outcome)
      if (f.reason && f.outcome !== 'dlq') result.reasons.set(key, f.reason)
    }
    for (const id of ids) if (dlqMessages.has(id)) kinds.add('dlq')
    if (kinds.size === 0) result.lost.push(key)
    if (kinds.size > 1) result.conflicts.push(key)
    const final = kinds.has('dialed') ? 'dialed' : [...kinds][0]
    if (final) result.outcomes[final] = (result.outcomes[final] ?? 0) + 1
  }
  const suspects = [...new Set([...result.lost, ...result.duplicated, ...result.conflicts])]
  if (suspects.length > 0) {
    result.details = await explainTasks(db, suspects, byTask)
    // straight to fd 2: scenarios capture process.stdout / stderr
    writeSync(2, `[faults] suspect tasks:\n${result.details}\n`)
  }
  return result
}

/** Outcome history and call rows of some tasks, to say why the law failed for them. */
async function explainTasks(db: pg.Pool, keys: string[], byTask: Map<string, string[]>): Promise<string> {
  const lines: string[] = []
  for (const key of keys.slice(0, 10)) {
    const ids = byTask.get(key) ?? []
    const { rows: outcomes } = await db.query(
      `SELECT at, message_id, stage, outcome, reason FROM task_outcomes
        WHERE message_id = ANY($1::text[]) OR campaign_id || ':' || contact_id = $2 ORDER BY id`,
      [ids, key],
    )
    const { rows: calls } = await db.query(
      `SELECT call_id, status, error, started_at, ended_at FROM call_attempts WHERE campaign_id || ':' || contact_id = $1`,
      [key],
    )
    lines.push(`${key} messages ${ids.join(', ')}`, ...outcomes.map((o) => `  outcome ${JSON.stringify(o)}`))
    lines.push(...calls.map((c) => `  call ${JSON.stringify(c)}`))
  }
  return lines.join('\n')
}

/** Admissions per sliding 1000 ms window, from the worker's call rows (started_at). */
export function busiestWindow(startedAtMs: number[], fromMs: number, toMs: number, windowMs = 1000) {
  const times = startedAtMs.filter((t) => t >= fromMs && t < toMs).sort((a, b) => a - b)
  let busiest = 0
  let j = 0
  for (let i = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++
    busiest = Math.max(busiest, i - j + 1)
  }
  return { busiest, total: times.length }
}

export { DEMO_CAMPAIGN_ID }

/**
 * Keeps everything this process writes to stdout and stderr (Powertools logs INFO to stdout,
 * WARN/ERROR to stderr) while a scenario runs, so the scenario can scan its own logs for phone
 * numbers and secrets. Each chunk still goes on to the stream underneath (test/quiet-output.ts's
 * buffer, which shows it only when the test fails and runs the suite-wide log scan on it).
 */
export function captureOutput(): { text(): string; stop(): void } {
  const chunks: string[] = []
  const streams = [process.stdout, process.stderr]
  const originals = streams.map((s) => s.write.bind(s))
  streams.forEach((stream, i) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
      return (originals[i] as (...a: unknown[]) => boolean)(chunk, ...rest)
    }) as typeof stream.write
  })
  return {
    text: () => chunks.join(''),
    stop: () => streams.forEach((stream, i) => (stream.write = originals[i] as typeof stream.write)),
  }
}

/** The log lines (JSON) whose message matches, for asserting a transition was logged. */
export function logLines(text: string, message: RegExp): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const json = JSON.parse(line) as Record<string, unknown>
      if (typeof json.message === 'string' && message.test(json.message)) out.push(json)
    } catch {
      // not a log line
    }
  }
  return out
}

/**
 * Log lines that give away a phone number (any form: test/helpers/log-scan.ts) or a secret.
 * Returns the offending lines, each with what it leaked, so a failure says exactly where to look.
 */
export function scanLogs(text: string, phones: string[], secrets: string[]): string[] {
  const bad = findPhoneLeaks(
    text,
    phones.filter((p) => !isReservedTestNumber(p)),
  ).map((l) => `leaks ${l.kind === 'mask' ? 'a wide mask' : 'a number'} ${l.found.slice(0, 4)}…: ${l.line}`)
  const needles = secrets.filter((s) => s.length >= 8)
  for (const line of text.split('\n'))
    for (const n of needles)
      if (line.includes(n)) bad.push(`leaks a secret ${n.slice(0, 4)}…: ${line.slice(0, 300)}`)
  return bad
}
