import { createHash } from 'node:crypto'
import { runner } from 'node-pg-migrate'
import { assetPath } from './paths.js'
import { databaseUrl } from './pool.js'

export interface MigrateOptions {
  connectionString?: string
  schema?: string
  /** log lines from the migration tool; silent by default */
  log?: (line: string) => void
}

export interface MigrateResult {
  applied: string[]
  schema: string
}

/**
 * node-pg-migrate guards a run with pg_try_advisory_lock(one fixed id) — database-wide, and it
 * fails at once ("Another migration is already running") instead of waiting. Migrations of one
 * schema must not overlap; migrations of different schemas (stages, parallel test runs sharing one
 * database) may. So the lock id is derived from the schema name.
 */
export function migrationLockId(schema: string): number {
  // 48 bits of a hash: a positive safe integer, pasted as a bigint literal into the lock call
  return parseInt(createHash('sha256').update(`dialctl_migrations:${schema}`).digest('hex').slice(0, 12), 16)
}

/** Applies pending forward migrations from src/db/migrations (node-pg-migrate, SQL files). */
export async function migrate(options: MigrateOptions = {}): Promise<MigrateResult> {
  const schema = options.schema ?? process.env.DATABASE_SCHEMA ?? 'public'
  const log = options.log ?? (() => {})
  const applied = await runner({
    databaseUrl: options.connectionString ?? databaseUrl(),
    dir: assetPath('src', 'db', 'migrations'),
    direction: 'up',
    migrationsTable: 'dialctl_migrations',
    schema,
    createSchema: true,
    checkOrder: true,
    singleTransaction: true,
    lockValue: migrationLockId(schema),
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  })
  return { applied: applied.map((m) => m.name), schema }
}
