import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { guardCampaignMedia, mediaHealth } from '../../src/telephony/media-health.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign } from './worker-fixtures.js'

let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('media_health')
})
afterAll(async () => {
  await tdb.drop()
})

let n = 0
async function call(campaignId: string, status: string, reason: string | null, answered: boolean) {
  n++
  await tdb.pool.query(
    `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, reason, answered_at, ended_at)
     VALUES ($1, $2, $3, 0, '+972500000000', $4, $5, CASE WHEN $6 THEN now() END, now())`,
    [`c-${n}`, campaignId, `k-${n}`, status, reason, answered],
  )
}

describe('media guard', () => {
  it('counts media failures against calls picked up, and pauses the campaign above the threshold only', async () => {
    await insertCampaign(tdb.pool, 'media-bad')
    await insertCampaign(tdb.pool, 'media-ok')
    for (let i = 0; i < 3; i++) await call('media-bad', 'failed', 'media', true)
    await call('media-bad', 'answered', null, true)
    await call('media-bad', 'busy', null, false)
    await call('media-ok', 'failed', 'media', true)
    for (let i = 0; i < 9; i++) await call('media-ok', 'answered', null, true)

    expect(await mediaHealth(tdb.pool, 15)).toEqual([
      { campaignId: 'media-bad', pickedUp: 4, mediaFailures: 3, share: 0.75 },
      { campaignId: 'media-ok', pickedUp: 10, mediaFailures: 1, share: 0.1 },
    ])
    const policy = { windowMinutes: 15, minFailures: 3, maxShare: 0.5 }
    expect((await guardCampaignMedia(tdb.pool, 'media-ok', policy)).paused).toBe(false)
    expect((await guardCampaignMedia(tdb.pool, 'media-bad', { ...policy, minFailures: 4 })).paused).toBe(
      false,
    )
    expect((await guardCampaignMedia(tdb.pool, 'media-bad', policy)).paused).toBe(true)
    // already paused: nothing more to do, no error
    expect((await guardCampaignMedia(tdb.pool, 'media-bad', policy)).paused).toBe(false)

    const { rows } = await tdb.pool.query(
      `SELECT c.status, e.actor, e.reason FROM campaigns c JOIN campaign_events e ON e.campaign_id = c.id WHERE c.id = 'media-bad'`,
    )
    expect(rows).toEqual([
      {
        status: 'paused',
        actor: 'media-guard',
        reason: expect.stringMatching(/audio failed on 3 of 4 calls .* dialctl campaign resume media-bad/),
      },
    ])
    const { rows: ok } = await tdb.pool.query(`SELECT status FROM campaigns WHERE id = 'media-ok'`)
    expect(ok).toEqual([{ status: 'active' }])
  })
})
