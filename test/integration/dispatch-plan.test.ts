import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLAIM_SQL } from '../../src/dispatch/contacts.js'
import { RELEASE_STUCK_SQL } from '../../src/dispatch/recovery.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign } from './dispatch-fixtures.js'

/** The dispatcher's queries must use indexes, not scan a campaign's contacts, on a table of real size. */
let t: TestDb
beforeAll(async () => {
  t = await createTestDb('dispplan')
  // Deterministic statistics, so the plan cannot change from one run to the next (it did, under
  // load): autovacuum must not re-ANALYZE the table mid-test with a fresh random sample, and a
  // statistics target of 1000 makes ANALYZE sample 300,000 rows, i.e. all 100,000: the same
  // histograms and most-common values every time.
  for (const table of ['contacts', 'blacklist'])
    await t.pool.query(
      `ALTER TABLE ${table} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)`,
    )
  await t.pool.query(
    `ALTER TABLE contacts ALTER COLUMN campaign_id SET STATISTICS 1000, ALTER COLUMN status SET STATISTICS 1000,
       ALTER COLUMN next_attempt_at SET STATISTICS 1000, ALTER COLUMN phone_number SET STATISTICS 1000,
       ALTER COLUMN id SET STATISTICS 1000`,
  )
  await t.pool.query('ALTER TABLE blacklist ALTER COLUMN phone_number SET STATISTICS 1000')
  await insertCampaign(t.pool, 'big')
  await insertCampaign(t.pool, 'other')
  // 50k contacts of the campaign (30 % already done, some queued / dialing), 50k of another.
  await t.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status, next_attempt_at)
     SELECT c, 'ct-' || g, '+9725' || lpad((g + CASE WHEN c = 'big' THEN 0 ELSE 5000000 END)::text, 8, '0'),
            CASE WHEN g % 10 < 3 THEN 'done' WHEN g % 100 = 3 THEN 'queued' WHEN g % 100 = 4 THEN 'dialing' ELSE 'pending' END,
            now() - interval '1 hour' + (g % 7200) * interval '1 second'
       FROM generate_series(1, 50000) g, unnest(ARRAY['big', 'other']) c`,
  )
  await t.pool.query(
    `INSERT INTO blacklist (phone_number, reason, source)
     SELECT '+9725' || lpad(g::text, 8, '0'), 'opt-out', 'test' FROM generate_series(1, 50000, 97) g`,
  )
  await t.pool.query('ANALYZE contacts')
  await t.pool.query('ANALYZE blacklist')
}, 120_000)
afterAll(async () => {
  await t?.drop()
})

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

async function explain(sql: string, params: unknown[]): Promise<PlanNode[]> {
  // A transaction rolled back: EXPLAIN does not execute, but keep the data untouched regardless.
  const client = await t.pool.connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params)
    await client.query('ROLLBACK')
    return nodes((rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan)
  } finally {
    client.release()
  }
}

const onContacts = (plan: PlanNode[]) => plan.filter((n) => n['Relation Name'] === 'contacts')

describe('query plans on 100k contacts', () => {
  it('the eligibility claim reads contacts through contacts_eligible_idx, never a sequential scan', async () => {
    // 10,000 = the default maxPerRun: at that size a join back on the primary key hashed the table.
    const plan = await explain(CLAIM_SQL, ['big', new Date(), 3, 10_000])
    // Index Scan, or Bitmap Index Scan + Bitmap Heap Scan: either way through the partial index.
    expect(plan.map((n) => n['Index Name'])).toContain('contacts_eligible_idx')
    expect(onContacts(plan).filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([])
    expect(onContacts(plan).map((n) => n['Node Type'])).toContain('Tid Scan')
  })

  it('crash recovery finds stuck contacts through contacts_inflight_idx, never a sequential scan', async () => {
    const now = new Date()
    const plan = await explain(RELEASE_STUCK_SQL, [new Date(now.getTime() - 900_000), now, new Date(0)])
    // the stuck scan (Index Scan or a bitmap) through the in-flight index; the update by key
    expect(plan.map((n) => n['Index Name'])).toContain('contacts_inflight_idx')
    expect(onContacts(plan).filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([])
  })
})
