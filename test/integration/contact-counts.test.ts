import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compactCounts,
  countByStatus,
  countQueuedAll,
  type StatusCounts,
} from '../../src/dispatch/contacts.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign, insertContacts } from './dispatch-fixtures.js'

let t: TestDb

beforeAll(async () => {
  t = await createTestDb('counts')
})
afterAll(async () => {
  await t.drop()
})

/** The truth the counters must equal: count(*) over the contacts themselves. */
async function counted(campaignId: string): Promise<StatusCounts> {
  const { rows } = await t.pool.query<{ status: keyof StatusCounts; n: string }>(
    'SELECT status, count(*) AS n FROM contacts WHERE campaign_id = $1 GROUP BY status',
    [campaignId],
  )
  const c: StatusCounts = { pending: 0, queued: 0, dialing: 0, done: 0, failed: 0 }
  for (const r of rows) c[r.status] = Number(r.n)
  return c
}

describe('contact_counts (migration 0008)', () => {
  it('follows inserts, status changes, other updates and deletes, per campaign', async () => {
    await insertCampaign(t.pool, 'a')
    await insertCampaign(t.pool, 'b')
    await insertContacts(t.pool, 'a', 50)
    await insertContacts(t.pool, 'b', 7, () => ({ status: 'queued' }))
    expect(await countByStatus(t.pool, 'a')).toEqual({
      pending: 50,
      queued: 0,
      dialing: 0,
      done: 0,
      failed: 0,
    })

    await t.pool.query(
      `UPDATE contacts SET status = 'queued' WHERE campaign_id = 'a' AND id IN ('ct-1', 'ct-2', 'ct-3')`,
    )
    await t.pool.query(`UPDATE contacts SET status = 'dialing' WHERE campaign_id = 'a' AND id = 'ct-1'`)
    await t.pool.query(`UPDATE contacts SET status = 'done' WHERE campaign_id = 'a' AND id = 'ct-1'`)
    // not a status change: no delta, the counts stay
    await t.pool.query(`UPDATE contacts SET attempts = attempts + 1 WHERE campaign_id = 'a'`)
    await t.pool.query(`UPDATE contacts SET status = 'failed' WHERE campaign_id = 'a' AND id LIKE 'ct-4%'`)
    await t.pool.query(`DELETE FROM contacts WHERE campaign_id = 'a' AND id = 'ct-2'`)
    // an update that matches nothing fires the statement trigger with empty transition tables
    await t.pool.query(`UPDATE contacts SET status = 'done' WHERE campaign_id = 'nope'`)

    expect(await countByStatus(t.pool, 'a')).toEqual(await counted('a'))
    expect(await countByStatus(t.pool, 'b')).toEqual(await counted('b'))
    expect(await countQueuedAll(t.pool)).toBe(1 + 7)
  })

  it('a fold keeps the counts and leaves one row per status', async () => {
    const before = await countByStatus(t.pool, 'a')
    await compactCounts(t.pool, 'a')
    expect(await countByStatus(t.pool, 'a')).toEqual(before)
    const { rows } = await t.pool.query<{ status: string; rows: string }>(
      `SELECT status, count(*) AS rows FROM contact_counts WHERE campaign_id = 'a' GROUP BY status`,
    )
    expect(rows.every((r) => r.rows === '1')).toBe(true)
    // statuses that fell to zero are dropped, not kept as zero rows
    expect(rows.map((r) => r.status).sort()).toEqual(
      Object.entries(before)
        .filter(([, n]) => n > 0)
        .map(([s]) => s)
        .sort(),
    )
  })

  it('writers never wait on each other: a status change commits while another transaction holds its own', async () => {
    const held = await t.pool.connect()
    try {
      await held.query('BEGIN')
      await held.query(`UPDATE contacts SET status = 'queued' WHERE campaign_id = 'a' AND id = 'ct-10'`)
      // same campaign, same statuses: with a shared counter row this would block until `held`
      // ends; lock_timeout bounds the wait, so a blocked writer fails the test instead of hanging it
      const other = await t.pool.connect()
      try {
        await other.query('BEGIN')
        await other.query("SET LOCAL lock_timeout = '5s'")
        await other.query(`UPDATE contacts SET status = 'queued' WHERE campaign_id = 'a' AND id = 'ct-11'`)
        await other.query('COMMIT')
      } finally {
        other.release()
      }
      await compactCounts(t.pool, 'a')
      await held.query('COMMIT')
    } finally {
      held.release()
    }
    expect(await countByStatus(t.pool, 'a')).toEqual(await counted('a'))
  })

  it('a campaign deleted with its contacts (cascade) and a truncate leave no counts behind', async () => {
    await t.pool.query(`DELETE FROM campaigns WHERE id = 'b'`)
    expect(await countByStatus(t.pool, 'b')).toEqual({
      pending: 0,
      queued: 0,
      dialing: 0,
      done: 0,
      failed: 0,
    })
    await t.pool.query('TRUNCATE contacts')
    expect(await countByStatus(t.pool, 'a')).toEqual({
      pending: 0,
      queued: 0,
      dialing: 0,
      done: 0,
      failed: 0,
    })
    await insertContacts(t.pool, 'a', 3)
    expect(await countByStatus(t.pool, 'a')).toEqual({
      pending: 3,
      queued: 0,
      dialing: 0,
      done: 0,
      failed: 0,
    })
  })
})
