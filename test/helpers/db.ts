import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { migrate } from '../../src/db/migrate.js'
import { createPool, databaseUrl, quoteIdent } from '../../src/db/pool.js'

export interface TestDb {
  pool: pg.Pool
  schema: string
  /** connection settings for code under test that builds its own pool */
  env: { DATABASE_URL: string; DATABASE_SCHEMA: string }
  drop(): Promise<void>
}

/** A fresh, migrated schema of the real PostgreSQL for one test file; dropped afterwards. */
export async function createTestDb(label = 't'): Promise<TestDb> {
  const schema = `${label}_${randomBytes(5).toString('hex')}`.toLowerCase()
  await migrate({ schema })
  const pool = createPool({ schema })
  return {
    pool,
    schema,
    env: { DATABASE_URL: databaseUrl(), DATABASE_SCHEMA: schema },
    async drop() {
      await pool.end()
      const admin = createPool({ max: 1 })
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
      await admin.end()
    },
  }
}
