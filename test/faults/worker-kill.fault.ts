import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LocalStack } from '../../local/stack.js'
import { databaseUrl } from '../../src/db/pool.js'
import {
  captureOutput,
  checkConservation,
  makeTasks,
  openScenario,
  pushTasks,
  queueContacts,
  scanLogs,
  startStack,
  waitDrained,
  waitFor,
  type ScenarioEnv,
} from './helpers/harness.js'
import { freePort, startWorkerProcess, type Child } from './helpers/processes.js'
import { recordResult } from './helpers/results.js'

/**
 * The worker runs as its own process (the built worker/main.js, as deployed) behind the local
 * stack's pipe and dialer. It is SIGKILLed while calls are ringing, stays down until the dialer
 * has seen DOWN_REFUSALS POSTs fail (retried, some to the DLQ), and restarts with the same WORKER_ID: its
 * startup closes the calls the dead process left open (failOpenCalls) and moves their contacts on.
 */
const TASKS = 60
const WORKER_ID = 'fault-worker'
/** the worker stays down until this many POSTs failed (`worker unreachable` outcomes) */
const DOWN_REFUSALS = 10

describe('fault: the worker killed mid-calls and restarted', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  let port: number
  const workers: Child[] = []
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()

  const startWorker = async () => {
    const child = startWorkerProcess({
      PORT: String(port),
      WORKER_TOKEN: token,
      WORKER_ID,
      DRIVER: 'sim',
      // real-time-ish calls (ring 0.5–2 s, IVR a few seconds): many are in flight at the kill
      SIM_OPTIONS: JSON.stringify({ speed: 0.5, answerRate: 0.6, seed: 11 }),
      DATABASE_URL: databaseUrl(),
      DATABASE_SCHEMA: env.schema,
      MAX_ACTIVE_CALLS: '200',
    })
    workers.push(child)
    await child.waitFor(/worker listening/, 30_000)
    return child
  }

  beforeAll(async () => {
    env = await openScenario('worker')
    port = await freePort()
    // The stack's dialer posts to this port; its in-process worker gives the port to ours.
    stack = await startStack(
      env,
      { maxCps: 10, workerPort: port, pipeConcurrency: 2, visibilityTimeoutSeconds: 10 },
      { WORKER_TOKEN: token },
    )
    await stack.worker.close()
  })

  afterAll(async () => {
    await stack?.stop()
    for (const w of workers) await w.stop()
    logs.stop()
    await env?.cleanup()
  })

  it('reconciles the calls in flight, retries or dead-letters the tasks, leaves none dialing', async () => {
    const started = Date.now()
    const first = await startWorker()
    const tasks = makeTasks(TASKS, 'worker')
    await queueContacts(env.db, tasks)
    const pushed = await pushTasks(stack!.queue, tasks)

    const openCalls = async () =>
      Number(
        (
          await env.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM call_attempts WHERE status = 'dialing'`,
          )
        ).rows[0]!.n,
      )
    const unreachableOutcomes = async () =>
      Number(
        (
          await env.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM task_outcomes WHERE outcome = 'failed' AND reason LIKE 'worker unreachable%'`,
          )
        ).rows[0]!.n,
      )
    await waitFor(async () => (await openCalls()) >= 5, 60_000, '5 calls in flight')
    await first.kill()
    const killedAt = Date.now()
    const openAtKill = await openCalls()
    // Down until the dialer has felt it, not for a fixed time.
    await waitFor(
      async () => (await unreachableOutcomes()) >= DOWN_REFUSALS,
      60_000,
      `${DOWN_REFUSALS} POSTs to the dead worker failed`,
    )
    const downS = (Date.now() - killedAt) / 1000
    await startWorker()

    await waitDrained(env.db, { timeoutMs: 120_000 })
    const seconds = (Date.now() - started) / 1000

    const { rows: reconciled } = await env.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM call_attempts WHERE status = 'failed' AND error = 'worker restarted while the call was open'`,
    )
    // the restart found the dead process's open calls and closed them
    expect(Number(reconciled[0]!.n)).toBeGreaterThanOrEqual(1)
    expect(Number(reconciled[0]!.n)).toBeLessThanOrEqual(openAtKill)
    const { rows: contacts } = await env.db.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM contacts GROUP BY status',
    )
    const byStatus = Object.fromEntries(contacts.map((r) => [r.status, Number(r.n)]))
    // none stuck dialing; the reconciled ones wait for their retry (pending) like any failed call
    expect(byStatus.dialing ?? 0).toBe(0)

    const refused = await unreachableOutcomes()
    const c = await checkConservation(env.db, pushed)
    recordResult({
      scenario: 'worker SIGKILL mid-calls',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `${openAtKill} calls open at the kill, ${reconciled[0]!.n} closed by failOpenCalls on restart; worker down ${downS.toFixed(1)} s, ${refused} POSTs failed and were retried`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.openCalls).toBe(0)
    expect(c.remaining).toBe(0)
    // contacts still 'queued' are exactly the dead-lettered tasks (crash recovery releases them later)
    expect(byStatus.queued ?? 0).toBe(c.outcomes.dlq ?? 0)
    const leaks = scanLogs(
      logs.text() + workers.map((w) => w.output).join('\n'),
      tasks.map((t) => t.phoneNumber),
      [token],
    )
    expect(leaks).toEqual([])
  })
})
