import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CampaignNotFoundError, campaignStats } from '../../src/campaigns/stats.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign, insertContacts, phoneFor } from './dispatch-fixtures.js'

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('dispstats')
})
afterAll(async () => {
  await t?.drop()
})

describe('campaign stats (dialctl campaign show)', () => {
  it('counts contacts by state, dials, answers, donations, blacklist; ETA at min(limit, concurrency rate)', async () => {
    // Weekdays 09–17 New York; 2024-03-04T15:00Z is Monday 10:00 EST (open).
    await insertCampaign(t.pool, 'st', {
      timezone: 'America/New_York',
      config: {
        maxConcurrentCalls: 20,
        maxAttemptsPerContact: 3,
        callingWindows: [{ dayOfWeek: [1, 2, 3, 4, 5], startHour: 9, endHour: 17 }],
      },
    })
    const layout = [
      'pending',
      'pending',
      'pending',
      'pending',
      'queued',
      'dialing',
      'done',
      'done',
      'failed',
      'pending',
    ]
    const attempts = [0, 1, 2, 0, 0, 1, 1, 2, 3, 0]
    await insertContacts(t.pool, 'st', layout.length, (i) => ({ status: layout[i], attempts: attempts[i] }))
    // ct-9 (pending) is blacklisted: not counted as remaining work.
    await t.pool.query(`INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'x', 'test')`, [
      phoneFor(9),
    ])
    await t.pool.query(
      `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, duration_ms) VALUES
       ('a1', 'st', 'ct-6', 0, '+972500000006', 'answered', 40000),
       ('a2', 'st', 'ct-7', 0, '+972500000007', 'no-answer', 20000),
       ('a3', 'st', 'ct-7', 1, '+972500000007', 'answered', 60000),
       ('a4', 'st', 'ct-8', 0, '+972500000008', 'busy', 10000),
       ('a5', 'st', 'ct-5', 0, '+972500000005', 'dialing', NULL)`,
    )
    await t.pool.query(`INSERT INTO donations (call_id, campaign_id, contact_id) VALUES ('a3', 'st', 'ct-7')`)

    const now = new Date('2024-03-04T15:00:00Z')
    const s = await campaignStats(t.pool, 'st', { cpsLimit: 1, now })
    expect(s).toMatchObject({
      campaignId: 'st',
      status: 'active',
      contacts: { total: 10, pending: 5, queued: 1, dialing: 1, done: 2, failed: 1 },
      attempts: 5,
      answered: 2,
      answerRate: 0.5, // 2 of 4 finished dials
      donations: 1,
      blacklisted: 1,
      windowOpen: true,
      nextWindowOpening: now,
    })
    // open, not blacklisted: ct-0..4 pending/queued (attempts 0,1,2,0,0) + ct-5 dialing (1)
    // min = 6; max = 3 + 2 + 1 + 3 + 3 + 2 = 14
    expect(s.remainingAttempts).toEqual({ min: 6, max: 14 })
    // avg finished call 32.5 s → 20 / 32.5 = 0.615 calls/s < limit 1
    expect(s.pace.avgCallSeconds).toBe(32.5)
    expect(s.pace.rate).toBeCloseTo(20 / 32.5, 6)
    expect(s.etaSeconds).toBe(Math.ceil(6 / (20 / 32.5)))
    expect(s.etaWorstSeconds).toBe(Math.ceil(14 / (20 / 32.5)))

    // A lower limit binds instead; a closed window shows its next opening.
    const slow = await campaignStats(t.pool, 'st', { cpsLimit: 0.1, now: new Date('2024-03-09T15:00:00Z') })
    expect(slow.pace.rate).toBe(0.1)
    expect(slow.etaSeconds).toBe(60)
    expect(slow.windowOpen).toBe(false)
    expect(slow.nextWindowOpening).toEqual(new Date('2024-03-11T13:00:00Z')) // Monday 09:00 EDT
  })

  it('an unknown campaign is a CampaignNotFoundError with a next step', async () => {
    await expect(campaignStats(t.pool, 'ghost', { cpsLimit: 10 })).rejects.toBeInstanceOf(
      CampaignNotFoundError,
    )
  })

  it('a campaign without finished calls assumes 30 s calls and has no answer rate yet', async () => {
    await insertCampaign(t.pool, 'fresh', { config: { maxConcurrentCalls: 60 } })
    await insertContacts(t.pool, 'fresh', 4, undefined, { phoneOffset: 100 })
    const s = await campaignStats(t.pool, 'fresh', { cpsLimit: 100 })
    expect(s).toMatchObject({
      answerRate: null,
      attempts: 0,
      pace: { avgCallSeconds: 30, rate: 2 },
      etaSeconds: 2,
    })
  })
})
