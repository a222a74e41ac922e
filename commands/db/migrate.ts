import { BaseCommand } from '../../src/cli/base-command.js'
import { migrate, type MigrateResult } from '../../src/db/migrate.js'
import { migrateTarget } from '../../src/local-stack/stack-file.js'

export default class DbMigrate extends BaseCommand<typeof DbMigrate> {
  static override summary = 'Apply pending PostgreSQL migrations'
  static override description =
    "Applies the forward-only SQL migrations in src/db/migrations to DATABASE_URL, schema DATABASE_SCHEMA (default public). While `dialctl dev` runs from this directory, what the environment leaves unset comes from the stack (stack.json), as for every other command; the stack's schema only in the stack's database. Safe to run repeatedly."
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    'DATABASE_URL=postgres://dialer@db.internal/dialer <%= config.bin %> <%= command.id %> --json',
  ]

  async run(): Promise<MigrateResult> {
    const result = await migrate(await migrateTarget())
    this.log(
      result.applied.length
        ? `Applied ${result.applied.length} migration(s) to schema ${result.schema}: ${result.applied.join(', ')}`
        : `Schema ${result.schema} is up to date.`,
    )
    return result
  }
}
