import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  addToBlacklist,
  failBlacklistedContacts,
  findBlacklisted,
  isBlacklisted,
  releaseContacts,
  rescheduleContacts,
} from '../../src/campaigns/contacts.js'
import {
  CampaignExistsError,
  CampaignValidationError,
  StoredCampaignInvalidError,
  getCampaign,
  getCampaignsForBatch,
  listCampaigns,
  saveCampaign,
} from '../../src/campaigns/repository.js'
import type { Db } from '../../src/db/pool.js'
import { createTestDb } from '../helpers/db.js'
import type { TestDb } from '../helpers/db.js'
import { seedCampaign } from '../helpers/fixtures.js'

/** Counts statements, to hold the batch functions to one query each. */
function counting(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = []
  const wrapped = {
    query: (...args: unknown[]) => {
      statements.push(String(args[0]))
      return (db.query as (...a: unknown[]) => unknown)(...args)
    },
  }
  return { db: wrapped as unknown as Db, statements }
}

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('campaignrepo')
})
afterAll(async () => {
  await t.drop()
})
beforeEach(async () => {
  await t.pool.query('TRUNCATE campaigns, contacts, blacklist CASCADE')
})

describe('campaign repository', () => {
  it('saves the seed campaign and reads it back in the seed shape', async () => {
    const saved = await saveCampaign(t.pool, seedCampaign())
    expect(saved.created).toBe(true)
    expect(saved.campaign).toEqual(seedCampaign())
    const got = await getCampaign(t.pool, 'campaign-123')
    expect(got?.campaign).toEqual(seedCampaign())
    expect(got?.isTest).toBe(false)
    expect(got?.createdAt).toBeInstanceOf(Date)
    expect(await getCampaign(t.pool, 'nope')).toBeUndefined()
  })

  it('upserts: a second save updates the row and reports created = false', async () => {
    await saveCampaign(t.pool, seedCampaign())
    const before = await t.pool.query('SELECT updated_at FROM campaigns')
    const saved = await saveCampaign(t.pool, seedCampaign({ name: 'Renamed', status: 'paused' }), {
      isTest: true,
    })
    expect(saved.created).toBe(false)
    const got = await getCampaign(t.pool, 'campaign-123')
    expect(got?.campaign).toMatchObject({ name: 'Renamed', status: 'paused' })
    expect(got?.isTest).toBe(true)
    expect(got!.updatedAt.getTime()).toBeGreaterThanOrEqual((before.rows[0].updated_at as Date).getTime())
  })

  it("mode 'insert' refuses an existing id and leaves it unchanged", async () => {
    await saveCampaign(t.pool, seedCampaign())
    await expect(saveCampaign(t.pool, seedCampaign({ name: 'Other' }), { mode: 'insert' })).rejects.toThrow(
      CampaignExistsError,
    )
    expect((await getCampaign(t.pool, 'campaign-123'))?.campaign.name).toBe('Donation Drive 2024')
  })

  it('rejects an invalid campaign with every issue and writes nothing', async () => {
    const bad = seedCampaign({ timezone: 'Nowhere/City' })
    bad.config.ivrFlow.startNodeId = 'missing'
    const error = await saveCampaign(t.pool, bad).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CampaignValidationError)
    expect((error as CampaignValidationError).issues.map((i) => i.path)).toEqual([
      'timezone',
      'config.ivrFlow.startNodeId',
    ])
    expect((error as Error).message).toContain(
      'config.ivrFlow.startNodeId: start node "missing" does not exist',
    )
    expect((await t.pool.query('SELECT count(*)::int AS n FROM campaigns')).rows[0].n).toBe(0)
  })

  it('lists campaigns, optionally by status', async () => {
    await saveCampaign(t.pool, seedCampaign({ id: 'a' }))
    await saveCampaign(t.pool, seedCampaign({ id: 'b', status: 'paused' }))
    await saveCampaign(t.pool, seedCampaign({ id: 'c', status: 'draft' }))
    expect((await listCampaigns(t.pool)).map((s) => s.campaign.id).sort()).toEqual(['a', 'b', 'c'])
    expect((await listCampaigns(t.pool, { status: 'paused' })).map((s) => s.campaign.id)).toEqual(['b'])
    expect(
      (await listCampaigns(t.pool, { status: ['active', 'draft'] })).map((s) => s.campaign.id).sort(),
    ).toEqual(['a', 'c'])
  })

  it('getCampaignsForBatch reads many campaigns in one query; a broken row is reported, not thrown', async () => {
    await saveCampaign(t.pool, seedCampaign({ id: 'a' }))
    await saveCampaign(t.pool, seedCampaign({ id: 'b' }))
    await t.pool.query(
      `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ('broken', 'B', 'active', '{"audioFileUrl": 1}', 'UTC')`,
    )
    const { db, statements } = counting(t.pool)
    const map = await getCampaignsForBatch(db, ['a', 'b', 'a', 'broken', 'missing'])
    expect(statements).toHaveLength(1)
    expect([...map.keys()].sort()).toEqual(['a', 'b', 'broken'])
    expect(map.get('a')).toEqual({ ok: true, campaign: seedCampaign({ id: 'a' }) })
    const broken = map.get('broken')
    expect(broken?.ok).toBe(false)
    expect(broken?.ok === false && broken.error).toMatch(/^config\.audioFileUrl: /)
    // getCampaign on the broken row names the campaign and what to do
    await expect(getCampaign(t.pool, 'broken')).rejects.toThrow(StoredCampaignInvalidError)
    expect(await getCampaignsForBatch(db, [])).toEqual(new Map())
    expect(statements).toHaveLength(1)
  })
})

describe('contact moves and the blacklist', () => {
  beforeEach(async () => {
    await saveCampaign(t.pool, seedCampaign({ id: 'c1' }))
    await t.pool.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts, next_attempt_at) VALUES
         ('c1', 'k1', '+972501234561', 'queued', 0, '2024-01-01Z'),
         ('c1', 'k2', '+972501234562', 'queued', 1, '2024-01-01Z'),
         ('c1', 'k3', '+972501234563', 'dialing', 0, '2024-01-01Z'),
         ('c1', 'k4', '+972501234564', 'queued', 2, '2024-01-01Z')`,
    )
  })
  const contact = async (id: string) =>
    (
      await t.pool.query(
        `SELECT status, attempts, last_outcome, next_attempt_at FROM contacts WHERE campaign_id = 'c1' AND id = $1`,
        [id],
      )
    ).rows[0]

  it('releases queued contacts to pending in one statement, only for the attempt the task carries', async () => {
    const { db, statements } = counting(t.pool)
    const moved = await releaseContacts(db, [
      { campaignId: 'c1', contactId: 'k1', attempts: 0 },
      { campaignId: 'c1', contactId: 'k2', attempts: 0 }, // stale: k2 is queued for attempt 1
      { campaignId: 'c1', contactId: 'k3', attempts: 0 }, // already dialing: untouched
      { campaignId: 'c1', contactId: 'ghost', attempts: 0 }, // no row (e.g. dialctl push)
    ])
    expect(statements).toHaveLength(1)
    expect(moved).toBe(1)
    expect((await contact('k1')).status).toBe('pending')
    expect((await contact('k2')).status).toBe('queued')
    expect((await contact('k3')).status).toBe('dialing')
  })

  it('reschedules queued contacts to their next window opening', async () => {
    const at = new Date('2024-01-21T07:00:00Z')
    const moved = await rescheduleContacts(t.pool, [
      { campaignId: 'c1', contactId: 'k1', attempts: 0, nextAttemptAt: at },
      { campaignId: 'c1', contactId: 'k2', attempts: 1, nextAttemptAt: new Date('2024-01-22T07:00:00Z') },
    ])
    expect(moved).toBe(2)
    expect(await contact('k1')).toMatchObject({ status: 'pending', next_attempt_at: at })
    expect((await contact('k2')).next_attempt_at).toEqual(new Date('2024-01-22T07:00:00Z'))
    expect((await contact('k4')).next_attempt_at).toEqual(new Date('2024-01-01T00:00:00Z'))
  })

  it('fails blacklisted contacts with last_outcome = blacklisted', async () => {
    const moved = await failBlacklistedContacts(t.pool, [
      { campaignId: 'c1', contactId: 'k4', attempts: 2 },
      { campaignId: 'c1', contactId: 'k3', attempts: 0 },
    ])
    expect(moved).toBe(1)
    expect(await contact('k4')).toMatchObject({ status: 'failed', last_outcome: 'blacklisted', attempts: 2 })
    expect((await contact('k3')).status).toBe('dialing')
  })

  it('an empty move costs no statement', async () => {
    const { db, statements } = counting(t.pool)
    expect(await releaseContacts(db, [])).toBe(0)
    expect(await rescheduleContacts(db, [])).toBe(0)
    expect(await failBlacklistedContacts(db, [])).toBe(0)
    expect(statements).toEqual([])
  })

  it('looks up many numbers in one query; adding a number twice keeps the first entry', async () => {
    expect(
      await addToBlacklist(t.pool, { phoneNumber: '+972501234561', reason: 'pressed 9', source: 'ivr' }),
    ).toBe(true)
    expect(
      await addToBlacklist(t.pool, { phoneNumber: '+972501234561', reason: 'again', source: 'operator' }),
    ).toBe(false)
    const { db, statements } = counting(t.pool)
    expect(await findBlacklisted(db, ['+972501234561', '+972501234562', '+972501234561'])).toEqual(
      new Set(['+972501234561']),
    )
    expect(statements).toHaveLength(1)
    expect(await isBlacklisted(t.pool, '+972501234562')).toBe(false)
    expect((await t.pool.query('SELECT reason FROM blacklist')).rows).toEqual([{ reason: 'pressed 9' }])
  })
})
