import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { dialctl, jsonOf, ROOT } from './helpers.js'

const schema = `cmdmigrate_${randomBytes(5).toString('hex')}`
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
    expect(jsonOf(await dialctl(['db', 'migrate', '--json']))).toEqual({ applied: [], schema })
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
})
