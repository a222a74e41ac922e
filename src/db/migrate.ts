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
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  })
  return { applied: applied.map((m) => m.name), schema }
}
