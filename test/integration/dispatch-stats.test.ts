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
    // Nothing dialed in the 5 minutes before `now`: the configured bound, plus the last call's length.
    expect(s.pace).toMatchObject({ observedRate: null, rateSource: 'configured' })
    expect(s.finishedDials).toBe(4)
    expect(s.allContactsFinished).toBe(false)
    expect(s.etaSeconds).toBe(Math.ceil(6 / (20 / 32.5) + 32.5))
    expect(s.etaWorstSeconds).toBe(Math.ceil(14 / (20 / 32.5) + 32.5))

    // A lower limit binds instead; a closed window shows its next opening.
    const slow = await campaignStats(t.pool, 'st', { cpsLimit: 0.1, now: new Date('2024-03-09T15:00:00Z') })
    expect(slow.pace.rate).toBe(0.1)
    expect(slow.etaSeconds).toBe(Math.ceil(6 / 0.1 + 32.5))
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
      pace: { avgCallSeconds: 30, rate: 2, rateSource: 'configured' },
      etaSeconds: 2 + 30,
      allContactsFinished: false,
    })
  })

  it('while dialing, the ETA uses the dial rate observed over the last 5 minutes', async () => {
    await insertCampaign(t.pool, 'obs', { config: { maxConcurrentCalls: 100 } })
    await insertContacts(t.pool, 'obs', 40, (i) => ({ status: i < 30 ? 'done' : 'pending' }), {
      phoneOffset: 200,
    })
    const now = new Date('2026-01-05T12:00:00Z')
    // 30 dials over the last 270 s (the first in the window 270 s ago: 1/9 per s), one older dial
    // outside the window, 10 s calls.
    const values = Array.from({ length: 30 }, (_, i) => {
      const at = new Date(now.getTime() - (i + 1) * 9_000).toISOString()
      return `('o${i}', 'obs', 'ct-${i}', 0, '+972500000000', 'answered', 10000, '${at}')`
    })
    values.push(`('old', 'obs', 'ct-0', 1, '+972500000000', 'busy', 10000, '2026-01-05T11:00:00Z')`)
    await t.pool.query(
      `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, duration_ms, started_at)
       VALUES ${values.join(', ')}`,
    )
    // The limit (100 CPS) and the concurrency (100 ÷ 10 s = 10/s) would promise 1 s; 0.1/s is the truth.
    const s = await campaignStats(t.pool, 'obs', { cpsLimit: 100, now })
    expect(s.pace).toMatchObject({ rateSource: 'observed', observedSeconds: 270 })
    expect(s.pace.observedRate).toBeCloseTo(1 / 9, 9)
    expect(s.etaSeconds).toBe(Math.ceil(10 * 9 + 10))
    expect(s).toMatchObject({ attempts: 31, finishedDials: 31, answered: 30 })
  })

  it('a campaign dialing for 20 s is paced over those 20 s, not the whole 5-minute window (issue #16)', async () => {
    await insertCampaign(t.pool, 'young', { config: { maxConcurrentCalls: 100 } })
    await insertContacts(t.pool, 'young', 60, (i) => ({ status: i < 30 ? 'done' : 'pending' }), {
      phoneOffset: 400,
    })
    const now = new Date('2026-01-05T12:00:00Z')
    // 30 dials in the last 20 s: 1.5/s (over 5 min it would read 0.10/s)
    const values = Array.from({ length: 30 }, (_, i) => {
      const at = new Date(now.getTime() - 20_000 + i * 500).toISOString()
      return `('y${i}', 'young', 'ct-${i}', 0, '+972500000000', 'answered', 10000, '${at}')`
    })
    await t.pool.query(
      `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, duration_ms, started_at)
       VALUES ${values.join(', ')}`,
    )
    const s = await campaignStats(t.pool, 'young', { cpsLimit: 100, now })
    expect(s.pace).toMatchObject({
      rateSource: 'observed',
      observedSeconds: 20,
      observedRate: 1.5,
      rate: 1.5,
    })
  })

  it('a campaign whose contacts are all done or failed reports it (and stays active)', async () => {
    await insertCampaign(t.pool, 'fin', { config: { maxConcurrentCalls: 5 } })
    await insertContacts(t.pool, 'fin', 3, (i) => ({ status: i ? 'done' : 'failed' }), { phoneOffset: 300 })
    const s = await campaignStats(t.pool, 'fin', { cpsLimit: 5 })
    expect(s).toMatchObject({ status: 'active', allContactsFinished: true, etaSeconds: 0 })
    await insertCampaign(t.pool, 'empty', {})
    expect((await campaignStats(t.pool, 'empty', { cpsLimit: 5 })).allContactsFinished).toBe(false)
  })
})
