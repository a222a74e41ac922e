import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addToBlacklist } from '../../src/campaigns/contacts.js'
import { databaseUrl } from '../../src/db/pool.js'
import { DEFAULT_QUEUE_NAME, PgQueue } from '../../src/queue/pg-queue.js'
import {
  checkConservation,
  makeTasks,
  openScenario,
  pushBodies,
  queueContacts,
  queueState,
  scanLogs,
  taskKey,
  waitDrained,
  waitFor,
  type Pushed,
  type ScenarioEnv,
} from './helpers/harness.js'
import { freePort, startDevProcess, type Child } from './helpers/processes.js'
import { recordResult } from './helpers/results.js'

/**
 * `dialctl dev` (the built CLI, as a user runs it) is SIGKILLed mid-run — no shutdown handler, calls
 * ringing, batches half done — and started again. The queue lives in PostgreSQL: it must resume,
 * messages the dead process held come back after their visibility timeout (30 s, dev's default),
 * the calls it left open must be closed, and every task end in one outcome.
 *
 * Both runs' output (Powertools logs on stdout, status lines on stderr) is kept and scanned: no
 * pushed phone number and not the WORKER_TOKEN may appear in it. Some tasks are built to take the
 * error paths (unknown campaign, blacklisted, malformed with a number inside) so their logs are
 * scanned too.
 */
const TASKS = 50

describe('fault: dialctl dev killed with SIGKILL and restarted', () => {
  let env: ScenarioEnv
  let home: string
  let port: number
  const runs: Child[] = []
  const token = randomBytes(24).toString('base64url')

  const startDev = async () => {
    const child = startDevProcess(
      [
        '--port',
        String(port),
        '--no-dispatcher',
        '--max-cps',
        '10',
        '--batch-window',
        '1',
        '--speed',
        '0.5',
        '--answer-rate',
        '0.6',
        '--status-every',
        '1',
        // the pipeline's logs on stdout, where this test scans them (by default they go to a file)
        '--logs',
      ],
      {
        DATABASE_URL: databaseUrl(),
        DATABASE_SCHEMA: env.schema,
        DIALCTL_REDIS_PREFIX: env.prefix,
        DIALCTL_HOME: home,
        WORKER_TOKEN: token,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    )
    runs.push(child)
    await child.waitFor(/dialctl local stack is running/, 60_000)
    return child
  }

  beforeAll(async () => {
    env = await openScenario('dev')
    home = mkdtempSync(join(tmpdir(), 'dialctl-faults-dev-'))
    port = await freePort()
  })

  afterAll(async () => {
    for (const run of runs) await run.stop()
    rmSync(home, { recursive: true, force: true })
    await env?.cleanup()
  })

  it('resumes the queue after a SIGKILL; every task ends in one outcome; logs leak nothing', async () => {
    const started = Date.now()
    const first = await startDev()
    const tasks = makeTasks(TASKS, 'dev', { offset: 400 })
    await queueContacts(env.db, tasks)
    const odd = makeTasks(3, 'dev-odd', { offset: 500 })
    await addToBlacklist(env.db, {
      phoneNumber: odd[1]!.phoneNumber,
      reason: 'fault suite',
      source: 'operator',
    })
    const oddBodies = [
      JSON.stringify({ ...odd[0], campaignId: 'no-such-campaign' }),
      JSON.stringify(odd[1]),
      // valid number, invalid attempts: enrich drops it as malformed, and logs why
      JSON.stringify({ ...odd[2], attempts: -1 }),
    ]
    const queue = new PgQueue(env.db, DEFAULT_QUEUE_NAME)
    const pushed: Pushed[] = (
      await pushBodies(queue, [...tasks.map((t) => JSON.stringify(t)), ...oddBodies])
    ).map((p) => {
      const t = JSON.parse(p.body) as { campaignId: string; contactId: string }
      return { ...p, key: taskKey(t) }
    })

    await waitFor(
      async () => (await queueState(env.db)).openCalls >= 3,
      60_000,
      '3 calls in flight before the kill',
    )
    await first.kill()
    const atKill = await queueState(env.db)

    const second = await startDev()
    await waitDrained(env.db, { timeoutMs: 120_000, what: 'the restarted dev stack' })
    const seconds = (Date.now() - started) / 1000
    await second.stop()
    expect(second.output).toMatch(/Stopped\. Nothing queued was lost/)

    const c = await checkConservation(env.db, pushed)
    recordResult({
      scenario: 'dialctl dev SIGKILL + restart',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `at the kill: ${atKill.openCalls} calls open, ${atKill.inFlight} messages in flight (back after the 30 s visibility timeout)`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.remaining).toBe(0)
    expect(c.openCalls).toBe(0)
    expect(c.outcomes.dropped).toBe(3)
    const { rows } = await env.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM contacts WHERE status = 'dialing'`,
    )
    expect(Number(rows[0]!.n)).toBe(0)

    const leaks = scanLogs(
      runs.map((r) => r.output).join('\n'),
      [...tasks, ...odd].map((t) => t.phoneNumber),
      [token],
    )
    expect(leaks).toEqual([])
    // the scan saw the pipeline's logs (masked numbers), not an empty output
    expect(runs[0]!.output).toMatch(/"phoneNumber":"\+?\*+\d{2}"/)
    expect(runs.map((r) => r.output).join('\n')).toMatch(/dropping malformed dial task/)
  })
})
