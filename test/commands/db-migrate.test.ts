import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool, DEFAULT_DATABASE_URL, quoteIdent } from '../../src/db/pool.js'
import { migrateTarget } from '../../src/local-stack/stack-file.js'
import { dialctl, jsonOf, ROOT } from './helpers.js'

const schema = `cmdmigrate_${randomBytes(5).toString('hex')}`
const stackSchema = `${schema}_stack`
const saved = { ...process.env }
const migrations = readdirSync(join(ROOT, 'src', 'db', 'migrations'))
  .filter((f) => f.endsWith('.sql'))
  .map((f) => f.replace(/\.sql$/, ''))
  .sort()

beforeAll(() => {
  Object.assign(process.env, { DATABASE_SCHEMA: schema, NO_COLOR: '1' })
})
afterAll(async () => {
  process.env = saved
  const admin = createPool({ max: 1 })
  await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
  await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(stackSchema)} CASCADE`)
  await admin.end()
})

describe('dialctl db migrate', () => {
  it('applies every migration to a new schema, in order, then has nothing left to do', async () => {
    const first = await dialctl(['db', 'migrate', '--json'])
    expect(first.exitCode).toBe(0)
    expect(jsonOf(first)).toEqual({ applied: migrations, schema })

    const again = await dialctl(['db', 'migrate'])
    expect(again.exitCode).toBe(0)
    expect(again.stdout).toContain(`Schema ${schema} is up to date.`)
    expect(jsonOf(await dialctl(['db', 'migrate', '--json']))).toMatchObject({ schema })
  })

  it('an unreachable PostgreSQL: names the store, exit 3 (StoreUnavailableError)', async () => {
    const url = process.env.DATABASE_URL
    process.env.DATABASE_URL = 'postgres://postgres@127.0.0.1:9/test'
    try {
      const run = await dialctl(['db', 'migrate', '--json'])
      expect(run.exitCode).toBe(3)
      expect(jsonOf(run)).toMatchObject({
        error: { message: expect.stringMatching(/PostgreSQL/) },
      })
    } finally {
      if (url === undefined) delete process.env.DATABASE_URL
      else process.env.DATABASE_URL = url
    }
  })

  it("with `dialctl dev` running here and no DATABASE_SCHEMA, migrates the stack's schema, not public", async () => {
    // Found as a README user: `db migrate` in a second terminal created every table in public
    // while the stack ran in its own schema (every other command reads stack.json).
    const home = mkdtempSync(join(tmpdir(), 'dialctl-migrate-'))
    const url = process.env.DATABASE_URL
    writeFileSync(
      join(home, 'stack.json'),
      JSON.stringify({
        pid: process.pid,
        startedAt: new Date().toISOString(),
        databaseUrl: url ?? DEFAULT_DATABASE_URL,
        redisUrl: 'redis://127.0.0.1:6379',
        workerUrl: 'http://127.0.0.1:8787',
        pipeName: 'dial-tasks-to-dialer-worker',
        schema: stackSchema,
      }),
    )
    process.env.DIALCTL_HOME = home
    delete process.env.DATABASE_SCHEMA
    delete process.env.DATABASE_URL
    try {
      expect(jsonOf(await dialctl(['db', 'migrate', '--json']))).toEqual({
        applied: migrations,
        schema: stackSchema,
      })
      // the environment still wins over the stack
      process.env.DATABASE_SCHEMA = schema
      expect(jsonOf(await dialctl(['db', 'migrate', '--json']))).toMatchObject({ schema })
      // and is never mixed with it: a DATABASE_URL alone (another database, say production's)
      // gets migrate's default schema there, not the local stack's schema created in it
      delete process.env.DATABASE_SCHEMA
      process.env.DATABASE_URL = url ?? DEFAULT_DATABASE_URL
      expect(await migrateTarget(home)).toEqual({})
    } finally {
      process.env.DATABASE_SCHEMA = schema
      delete process.env.DIALCTL_HOME
      if (url !== undefined) process.env.DATABASE_URL = url
      else delete process.env.DATABASE_URL
      rmSync(home, { recursive: true, force: true })
    }
  })
})
