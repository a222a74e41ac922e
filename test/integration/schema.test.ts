import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTestDb, type TestDb } from '../helpers/db.js'

/**
 * The migrated database, as a readable snapshot: every table's columns, constraints and indexes,
 * plus views, functions and triggers. A migration's effect shows in review as a diff of
 * __snapshots__/migrated-schema.txt. After adding or changing a migration, regenerate it:
 *
 *   npx vitest run test/integration/schema.test.ts --update
 *
 * and commit the file with the migration (see CONTRIBUTING.md, "Adding a migration").
 */
let db: TestDb

beforeAll(async () => {
  db = await createTestDb('schema')
})
afterAll(async () => {
  await db.drop()
})

async function rows<T>(sql: string): Promise<T[]> {
  return (await db.pool.query<T & object>(sql, [db.schema])).rows
}

async function dumpSchema(): Promise<string> {
  const columns = await rows<{
    table: string
    column: string
    type: string
    nullable: string
    dflt: string | null
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS nullable,
            pg_get_expr(d.adbin, d.adrelid) AS dflt
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
  )
  const constraints = await rows<{ table: string; name: string; def: string }>(
    `SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1
      ORDER BY c.relname, k.conname`,
  )
  const indexes = await rows<{ table: string; name: string; def: string }>(
    `SELECT tablename AS table, indexname AS name, indexdef AS def
       FROM pg_indexes WHERE schemaname = $1 ORDER BY tablename, indexname`,
  )
  const views = await rows<{ name: string; def: string }>(
    `SELECT viewname AS name, definition AS def FROM pg_views WHERE schemaname = $1 ORDER BY viewname`,
  )
  const functions = await rows<{ signature: string }>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 ORDER BY 1`,
  )
  const triggers = await rows<{ table: string; def: string }>(
    `SELECT c.relname AS table, pg_get_triggerdef(t.oid) AS def
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND NOT t.tgisinternal
      ORDER BY c.relname, t.tgname`,
  )

  const tables = [...new Set(columns.map((c) => c.table))]
  const out: string[] = []
  for (const table of tables) {
    out.push(`table ${table}`)
    for (const c of columns.filter((x) => x.table === table))
      out.push(
        `  ${[c.column, c.type, c.nullable, c.dflt === null ? '' : `default ${c.dflt}`].filter(Boolean).join(' ')}`,
      )
    for (const k of constraints.filter((x) => x.table === table)) out.push(`  constraint ${k.name} ${k.def}`)
    for (const i of indexes.filter((x) => x.table === table)) out.push(`  index ${i.def}`)
    for (const t of triggers.filter((x) => x.table === table)) out.push(`  trigger ${t.def}`)
    out.push('')
  }
  for (const v of views) out.push(`view ${v.name}\n${v.def.trim()}\n`)
  for (const f of functions) out.push(`function ${f.signature}`)
  // Each test schema has a random name: show it as <schema>.
  return `${out.join('\n').trimEnd()}\n`
    .replaceAll(`${db.schema}.`, '<schema>.')
    .replaceAll(db.schema, '<schema>')
}

it('the migrated schema matches __snapshots__/migrated-schema.txt (regenerate with --update after a migration)', async () => {
  const dump = await dumpSchema()
  expect(dump).toContain('table contacts')
  await expect(dump).toMatchFileSnapshot('__snapshots__/migrated-schema.txt')
})
