import pg from 'pg'
import { bestEffort } from '../errors.js'

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test'

export interface PoolOptions {
  connectionString?: string
  /** search_path schema; tests give each run its own */
  schema?: string
  max?: number
}

export function databaseUrl(): string {
  return process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
}

/**
 * A pg pool whose connections use `schema` as their search_path. Max 10 by default, as the seed
 * sizes the enrich Lambda's pool; created once per process and reused across invocations.
 */
export function createPool(options: PoolOptions = {}): pg.Pool {
  const schema = options.schema ?? process.env.DATABASE_SCHEMA
  const pool = new pg.Pool({
    connectionString: options.connectionString ?? databaseUrl(),
    max: options.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    ...(schema ? { options: `-c search_path=${quoteIdent(schema)}` } : {}),
  })
  // An idle client losing its connection (PostgreSQL restart) must not crash the process;
  // the next query gets a fresh connection.
  pool.on('error', () => {})
  return pool
}

export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}

export type Db = pg.Pool | pg.PoolClient

/** Runs `fn` in a transaction on one pooled client. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await bestEffort(
      client.query('ROLLBACK'),
      'the original error is rethrown; a broken connection rolls back anyway',
    )
    throw error
  } finally {
    client.release()
  }
}
