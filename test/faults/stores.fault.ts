import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPool, withTransaction } from '../../src/db/pool.js'
import { createPgOutcomeRecorder } from '../../src/dialer/ports.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js'
import { ROOT } from './helpers/processes.js'
import { recordResult } from './helpers/results.js'

// Store failure modes from issue #15, each against the built CLI or the real pool code.
let db: TestDb
let silent: SilentServer
beforeAll(async () => {
  db = await createTestDb('fault_stores')
  silent = await startSilentServer()
})
afterAll(async () => {
  await silent.close()
  await db.drop()
})

/** The built CLI as an operator runs it, with its own environment; exit code, output and time. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/run.js'), ...args],
      { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          out: stdout + stderr,
          ms: Date.now() - started,
        }),
    )
  })
}

describe('stores that accept TCP and never answer', () => {
  it.each([
    ['Redis', 'REDIS_URL', 'redis'],
    ['PostgreSQL', 'DATABASE_URL', 'postgres'],
  ])(
    'a silent %s: cps get or campaign list / cps set / status / doctor exit 3 and name it',
    async (store, variable, scheme) => {
      const env: Record<string, string> = {
        ...db.env,
        [variable]: `${scheme}://${scheme === 'postgres' ? 'postgres@' : ''}127.0.0.1:${silent.port}${scheme === 'postgres' ? '/test' : ''}`,
        DIALCTL_WORKER_URL: 'http://127.0.0.1:9',
        DIALCTL_PIPE_NAME: 'fault-stores',
      }
      const started = Date.now()
      const runs = await Promise.all(
        // cps get reads Redis only; campaign list reads PostgreSQL only
        [
          store === 'Redis' ? ['cps', 'get'] : ['campaign', 'list'],
          ['cps', 'set', '9', '--reason', 'fault'],
          ['status'],
          ['doctor'],
        ].map((a) => cli(a, env)),
      )
      for (const run of runs) {
        expect(run.code).toBe(3)
        expect(run.out).toContain(store)
      }
      recordResult({
        scenario: `silent ${store}: CLI commands`,
        tasks: runs.length,
        outcomes: { 'exit 3': runs.filter((r) => r.code === 3).length },
        lost: 0,
        duplicated: 0,
        seconds: (Date.now() - started) / 1000,
        note: `${store === 'Redis' ? 'cps get' : 'campaign list'}, cps set, status, doctor (built CLI, in parallel); slowest ${Math.max(...runs.map((r) => r.ms))} ms incl. start-up; each names ${store}`,
      })
    },
  )
})

describe('PostgreSQL failures inside work', () => {
  it('pg_terminate_backend between two statements of 20 transactions: all reject, none commits, no crash', async () => {
    await db.pool.query('CREATE TABLE fault_tx (id int primary key)')
    const pool = createPool({ schema: db.schema, max: 4 })
    const started = Date.now()
    let rejected = 0
    try {
      for (let i = 0; i < 20; i++) {
        await withTransaction(pool, async (client) => {
          await client.query('INSERT INTO fault_tx (id) VALUES ($1)', [i])
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
          await client.query('INSERT INTO fault_tx (id) VALUES ($1)', [i + 1000])
        }).catch(() => rejected++)
      }
      const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM fault_tx')
      expect(rejected).toBe(20)
      expect(Number(rows[0]!.n)).toBe(0)
      recordResult({
        scenario: 'PostgreSQL connection killed mid-transaction',
        tasks: 20,
        outcomes: { rejected, committed: Number(rows[0]!.n) },
        lost: 0,
        duplicated: 0,
        seconds: (Date.now() - started) / 1000,
        note: 'pg_terminate_backend between two statements; each rejects and rolls back, the process keeps running',
      })
    } finally {
      await pool.end()
    }
  })

  it('pool of 2 exhausted while 50 dial batches record their outcomes: every outcome written once', async () => {
    const pool = createPool({ schema: db.schema, max: 2, connectTimeoutMs: 200 })
    const hogs = [await pool.connect(), await pool.connect()]
    const recorder = createPgOutcomeRecorder(pool)
    const checkouts = vi.spyOn(pool, 'connect')
    const started = Date.now()
    try {
      const writes = Array.from({ length: 50 }, (_, b) =>
        recorder.record(
          Array.from({ length: 10 }, (_, i) => ({
            messageId: `f-${b}-${i}`,
            stage: 'dialer' as const,
            outcome: 'dialed' as const,
          })),
        ),
      )
      // held until checkouts have timed out and been retried: without retries these writes were lost
      await vi.waitFor(() => expect(checkouts.mock.calls.length).toBeGreaterThanOrEqual(3))
      for (const h of hogs) h.release()
      await Promise.all(writes)
      const { rows } = await db.pool.query<{ n: string; d: string }>(
        "SELECT count(*) AS n, count(DISTINCT message_id) AS d FROM task_outcomes WHERE message_id LIKE 'f-%'",
      )
      expect(Number(rows[0]!.n)).toBe(500)
      expect(Number(rows[0]!.d)).toBe(500)
      recordResult({
        scenario: 'PostgreSQL pool of 2 exhausted',
        tasks: 500,
        outcomes: { recorded: Number(rows[0]!.n) },
        lost: 500 - Number(rows[0]!.d),
        duplicated: Number(rows[0]!.n) - Number(rows[0]!.d),
        seconds: (Date.now() - started) / 1000,
        note: 'both connections held past the 200 ms checkout bound; 50 batches × 10 outcomes retried with backoff',
      })
    } finally {
      await pool.end()
    }
  })
})
