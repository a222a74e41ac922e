import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { saveCampaign } from '../../src/campaigns/repository.js'
import { demoCampaign } from '../../src/local-stack/demo.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { dialctl, jsonOf } from './helpers.js'

// Issue #15, "false success": a CSV with no phone column, `;` delimiters or no rows printed
// "✓ 0 imported" and exited 0. Each case now says what happened, with an exit code that means it.
let db: TestDb
let redis: TestRedis
let dir: string
const saved = { ...process.env }

beforeAll(async () => {
  db = await createTestDb('cmdimpexit')
  redis = await createTestRedis('cmdimpexit')
  dir = mkdtempSync(join(tmpdir(), 'dialctl-imp-'))
  await saveCampaign(
    db.pool,
    { ...structuredClone(demoCampaign), id: 'imp', status: 'draft' },
    { mode: 'insert' },
  )
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_REDIS_PREFIX: redis.prefix,
    DIALCTL_STAGE: 'local',
    NO_COLOR: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
})
afterAll(async () => {
  process.env = saved
  await redis.cleanup()
  await db.drop()
})

const csv = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const count = async () =>
  Number(
    (await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM contacts WHERE campaign_id = 'imp'"))
      .rows[0]!.n,
  )

describe('contacts import: exit codes that mean something', () => {
  const refused: [string, string, string, RegExp][] = [
    [
      'a header and no rows',
      'id,phone\n',
      'IMPORT_EMPTY',
      /No row of .* could be imported \(0 refused, the file has no data rows\)/,
    ],
    [
      'no phone column',
      'id,name\nk1,Ann\n',
      'CSV_HEADER',
      /no phone column; name one of: .* or pass --phone-column/,
    ],
    [
      'every row refused',
      'id,phone\nk1,0501234567\nk2,12\n',
      'IMPORT_EMPTY',
      /No row of .* could be imported \(2 refused: line 2 phone/,
    ],
  ]
  it.each(refused)('%s: exit 1, nothing imported', async (_what, text, code, message) => {
    const run = await dialctl(['contacts', 'import', '--campaign', 'imp', csv(`${code}.csv`, text), '--json'])
    expect(run.exitCode).toBe(1)
    expect(jsonOf(run)).toMatchObject({ error: { code, message: expect.stringMatching(message) } })
    expect(await count()).toBe(0)
  })

  it('`;` delimiters (a European spreadsheet) are detected: the rows are imported, exit 0', async () => {
    const run = await dialctl([
      'contacts',
      'import',
      '--campaign',
      'imp',
      csv('semi.csv', 'id;phone;name\nk1;+442079460001;Ann\nk2;+442079460002;Bob\n'),
      '--json',
    ])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(jsonOf(run)).toMatchObject({ imported: 2, invalid: [] })
    expect(await count()).toBe(2)
  })

  it('a refused row under --strict: exit 1, nothing imported', async () => {
    const run = await dialctl([
      'contacts',
      'import',
      '--campaign',
      'imp',
      csv('strict.csv', 'id,phone\nk3,+442079460003\nk4,0501234567\n'),
      '--strict',
      '--json',
    ])
    expect(run.exitCode).toBe(1)
    expect(jsonOf(run)).toMatchObject({ error: { code: 'IMPORT_REFUSED' } })
    expect(await count()).toBe(2)
  })
})
