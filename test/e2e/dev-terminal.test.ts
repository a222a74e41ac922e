import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { databaseUrl } from '../../src/db/pool.js'
import { StackFile } from '../../src/local-stack/stack-file-schema.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { freePort, ROOT, startDevProcess, type Child } from '../faults/helpers/processes.js'

/**
 * `dialctl dev` as a user runs it (the built CLI, a child process): what its terminal shows, what
 * it tells other terminals (stack.json), and what Ctrl-C does.
 */
describe('dialctl dev: the terminal, stack.json, Ctrl-C', () => {
  let db: TestDb
  let redis: TestRedis
  let home: string
  let child: Child | undefined

  beforeAll(async () => {
    db = await createTestDb('devterm')
    redis = await createTestRedis('devterm')
  })
  afterEach(async () => {
    await child?.stop()
    child = undefined
    rmSync(home, { recursive: true, force: true })
  })
  afterAll(async () => {
    await db?.drop()
    await redis?.cleanup()
  })

  const start = async (args: string[]) => {
    home = mkdtempSync(join(tmpdir(), 'dialctl-devterm-'))
    const port = await freePort()
    child = startDevProcess(
      ['--port', String(port), '--max-cps', '20', '--batch-window', '1', '--status-every', '1', ...args],
      {
        DATABASE_URL: databaseUrl(),
        DATABASE_SCHEMA: db.schema,
        DIALCTL_REDIS_PREFIX: redis.prefix,
        DIALCTL_HOME: home,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    )
    await child.waitFor(/Ctrl-C to stop/, 60_000)
    return child
  }

  /** Another terminal: no DATABASE_URL, schema or prefix exported; only the stack's directory. */
  const otherTerminal = (args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DIALCTL_HOME: home, NO_COLOR: '1' }
    for (const k of ['DATABASE_URL', 'DATABASE_SCHEMA', 'DIALCTL_REDIS_PREFIX', 'REDIS_URL']) delete env[k]
    return spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    })
  }

  const count = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql)).rows[0]!.n)

  it('logs go to a file, never into the status; stack.json and the banner carry schema and prefix; two Ctrl-C close open calls', async () => {
    const dev = await start(['--demo', '30', '--speed', '1', '--answer-rate', '0.6'])
    const info = StackFile.parse(JSON.parse(readFileSync(join(home, 'stack.json'), 'utf8')))
    expect(info).toMatchObject({
      schema: db.schema,
      redisPrefix: redis.prefix,
      logFile: join(home, 'dev.log'),
    })
    expect(dev.output).toContain(`schema      ${db.schema} · Redis prefix "${redis.prefix}"`)

    // A second terminal with nothing exported acts on the stack's own data.
    const show = otherTerminal(['campaign', 'show', 'demo', '--json'])
    expect(show.status).toBe(0)
    expect(JSON.parse(show.stdout)).toMatchObject({ campaignId: 'demo', contacts: { total: 30 } })

    await vi.waitUntil(
      async () => (await count(`SELECT count(*) AS n FROM call_attempts WHERE status = 'dialing'`)) >= 3,
      {
        timeout: 60_000,
        interval: 100,
      },
    )
    await vi.waitUntil(
      () =>
        existsSync(join(home, 'dev.log')) &&
        /"level":"INFO"/.test(readFileSync(join(home, 'dev.log'), 'utf8')),
      {
        timeout: 10_000,
        interval: 100,
      },
    )
    // The terminal has the banner and status lines only: not one JSON log line.
    expect(dev.output).not.toMatch(/\{"level"/)
    expect(dev.output).toMatch(/CPS \d+\/20/)

    dev.proc.kill('SIGINT')
    await dev.waitFor(
      /Stopping: draining \d+ calls? and the batches in flight — Ctrl-C again to abandon\./,
      10_000,
    )
    dev.proc.kill('SIGINT')
    expect(await dev.exited).toBe(130)
    expect(dev.output).toMatch(/Abandoned: \d+ open calls? recorded as failed/)
    // The database is true at once: nothing left for the next start to recover.
    expect(await count(`SELECT count(*) AS n FROM call_attempts WHERE status = 'dialing'`)).toBe(0)
    expect(await count(`SELECT count(*) AS n FROM contacts WHERE status = 'dialing'`)).toBe(0)
    expect(existsSync(join(home, 'stack.json'))).toBe(false)
    expect(existsSync(join(home, 'stack.lock'))).toBe(false)
  }, 120_000)

  it('after the demo contacts are all finished, the demo campaign stays active and a push dials', async () => {
    // The earlier tests' contacts end here, as an operator's would (deleting them would leave their
    // call ids behind for the new contacts to collide with); the new ones are numbered after them.
    await db.pool.query(
      `UPDATE contacts SET status = 'failed' WHERE campaign_id = 'demo' AND status NOT IN ('done', 'failed')`,
    )
    const firstNewId = `demo-${String(await count(`SELECT count(*) AS n FROM contacts WHERE campaign_id = 'demo'`)).padStart(6, '0')}`
    const dev = await start(['--demo', '3', '--speed', '0', '--answer-rate', '0.9'])
    await vi.waitUntil(
      async () =>
        (await count(
          `SELECT count(*) AS n FROM call_attempts WHERE campaign_id = 'demo' AND status <> 'dialing' AND contact_id >= '${firstNewId}'`,
        )) >= 3,
      {
        timeout: 60_000,
        interval: 200,
      },
    )
    // A contact the simulated callee did not answer waits a minute for its retry: end it now, as
    // its last attempt would.
    await db.pool.query(
      `UPDATE contacts SET status = 'failed' WHERE campaign_id = 'demo' AND status = 'pending'`,
    )
    await vi.waitUntil(
      async () =>
        (await count(
          `SELECT count(*) AS n FROM contacts WHERE campaign_id = 'demo' AND status NOT IN ('done', 'failed')`,
        )) === 0,
      { timeout: 60_000, interval: 200 },
    )
    const shown = otherTerminal(['campaign', 'show', 'demo'])
    expect(shown.stdout).toContain('Status       active, all contacts finished')
    const push = otherTerminal([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550177',
      '--contact',
      'walk-in',
    ])
    expect(push.stderr).toBe('')
    expect(push.status).toBe(0)
    await vi.waitUntil(
      async () => (await count(`SELECT count(*) AS n FROM call_attempts WHERE contact_id = 'walk-in'`)) === 1,
      { timeout: 30_000, interval: 200 },
    )
    expect(await count(`SELECT count(*) AS n FROM campaigns WHERE id = 'demo' AND status = 'active'`)).toBe(1)
    dev.proc.kill('SIGINT')
    expect(await dev.exited).toBe(0)
    expect(dev.output).toContain('Stopped. Nothing queued was lost')
  }, 120_000)
})
