import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LocalStack } from '../../local/stack.js'
import {
  busiestWindow,
  captureOutput,
  logLines,
  checkConservation,
  countAttempts,
  makeTasks,
  queueContacts,
  openScenario,
  pushTasks,
  scanLogs,
  startStack,
  waitDrained,
  waitFor,
  type ScenarioEnv,
} from './helpers/harness.js'
import { TcpProxy } from './helpers/proxy.js'
import { recordResult } from './helpers/results.js'

/**
 * Redis goes away mid-run (through a proxy we cut: to the dialer it is a Redis restart) until the
 * dialer has logged the degraded mode and dialed DEGRADED_DIALS calls past the slots granted
 * before the cut, and comes back. The dialer must keep pacing with its conservative local limit (DEGRADED_CPS per
 * instance, never fail open), recover by itself, and lose nothing.
 */
const TASKS = 150
const LIMIT = 20
const DEGRADED_CPS = 5
/** the outage lasts until this many dials started in degraded mode (about 4 s at DEGRADED_CPS) */
const DEGRADED_DIALS = 4 * DEGRADED_CPS
/**
 * The limiter hands out slots up to 1 s ahead (docs/pacing.md): slots Redis granted just before the
 * cut still start during the outage's first second, so the bound is measured from 1.5 s in.
 * A dial's start is stamped by the worker after the POST: a late wake-up can push one dial into
 * the next 1000 ms window, so a window may show one more than the slot schedule (tolerance +1).
 */
const GRANTED_AHEAD_MS = 1500
const JITTER_TOLERANCE = 1

describe('fault: Redis cut mid-run and restored', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const proxy = new TcpProxy(6379)
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()

  beforeAll(async () => {
    env = await openScenario('redis')
    const port = await proxy.start()
    stack = await startStack(
      env,
      { maxCps: LIMIT, pipeConcurrency: 4, visibilityTimeoutSeconds: 10 },
      { REDIS_URL: `redis://127.0.0.1:${port}`, DEGRADED_CPS: String(DEGRADED_CPS), WORKER_TOKEN: token },
    )
  })

  afterAll(async () => {
    await stack?.stop()
    await proxy.close()
    logs.stop()
    await env?.cleanup()
  })

  it('paces at most DEGRADED_CPS per second while Redis is away, recovers, loses nothing', async () => {
    const started = Date.now()
    const tasks = makeTasks(TASKS, 'redis')
    // the dial gate dials only contacts that exist, at their next attempt
    await queueContacts(env.db, tasks)
    const pushed = await pushTasks(stack!.queue, tasks)

    await waitFor(async () => (await countAttempts(env.db)) >= 20, 60_000, '20 dials before the cut')
    const cutAt = Date.now()
    await proxy.cut()
    // The outage lasts until degraded pacing has been seen to work, not for a fixed time.
    await waitFor(
      async () => {
        if (logLines(logs.text(), /^Redis unreachable: degraded pacing/).length === 0) return false
        const { rows } = await env.db.query<{ n: string }>(
          `SELECT count(*) AS n FROM call_attempts WHERE started_at > to_timestamp($1 / 1000.0)`,
          [cutAt + GRANTED_AHEAD_MS],
        )
        return Number(rows[0]!.n) >= DEGRADED_DIALS
      },
      60_000,
      `${DEGRADED_DIALS} dials in degraded mode`,
    )
    const restoredAt = Date.now()
    await proxy.restore()

    await waitDrained(env.db, { timeoutMs: 120_000 })
    await stack!.worker.idle()
    const seconds = (Date.now() - started) / 1000

    const { rows } = await env.db.query<{ t: string }>(
      `SELECT (extract(epoch FROM started_at) * 1000)::float8 AS t FROM call_attempts`,
    )
    const starts = rows.map((r) => Number(r.t))
    const during = busiestWindow(starts, cutAt + GRANTED_AHEAD_MS, restoredAt)
    const outageS = (restoredAt - cutAt - GRANTED_AHEAD_MS) / 1000
    // degraded, not stopped and not fail-open: it dialed during the outage, within the bound
    expect(during.total).toBeGreaterThan(0)
    expect(during.busiest).toBeLessThanOrEqual(DEGRADED_CPS + JITTER_TOLERANCE)
    expect(during.total).toBeLessThanOrEqual(Math.ceil(DEGRADED_CPS * outageS) + DEGRADED_CPS)
    // the transition was logged once each way, and recorded for `cps get`
    const text = logs.text()
    expect(logLines(text, /^Redis unreachable: degraded pacing/)).toHaveLength(1)
    expect(logLines(text, /^Redis reachable again/)).toHaveLength(1)
    expect(await env.testRedis.redis.get(`${env.prefix}cps:degraded`)).not.toBeNull()

    const c = await checkConservation(env.db, pushed)
    recordResult({
      scenario: 'Redis cut mid-run',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `busiest 1 s window while degraded ${during.busiest} (DEGRADED_CPS ${DEGRADED_CPS}), ${during.total} dials in ${outageS.toFixed(1)} s`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.openCalls).toBe(0)
    expect(c.remaining).toBe(0)
    expect(
      scanLogs(
        text,
        tasks.map((t) => t.phoneNumber),
        [token],
      ),
    ).toEqual([])
  })
})
