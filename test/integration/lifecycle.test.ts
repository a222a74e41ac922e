import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CAMPAIGN_MOVES,
  CampaignTransitionError,
  listCampaignEvents,
  pauseCampaign,
  resumeCampaign,
  startCampaign,
  transitionCampaign,
} from '../../src/campaigns/lifecycle.js'
import { CAMPAIGN_STATUSES, type CampaignStatus } from '../../src/contracts/index.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign, insertContacts } from './dispatch-fixtures.js'

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('lifecycle')
})
afterAll(async () => {
  await t?.drop()
})

let seq = 0
async function campaignIn(status: CampaignStatus): Promise<string> {
  const id = `lc-${++seq}`
  await insertCampaign(t.pool, id, { status })
  return id
}

const ALLOWED: [CampaignStatus, CampaignStatus][] = [
  ['draft', 'active'],
  ['draft', 'cancelled'],
  ['active', 'paused'],
  ['active', 'completed'],
  ['active', 'cancelled'],
  ['paused', 'active'],
  ['paused', 'completed'],
  ['paused', 'cancelled'],
]
const key = (from: string, to: string) => `${from}→${to}`
const allowedKeys = new Set(ALLOWED.map(([f, to]) => key(f, to)))
const REFUSED = CAMPAIGN_STATUSES.flatMap((from) =>
  CAMPAIGN_STATUSES.filter((to) => to !== from && !allowedKeys.has(key(from, to))).map(
    (to) => [from, to] as [CampaignStatus, CampaignStatus],
  ),
)

describe('the move table', () => {
  it('is exactly the documented lifecycle', () => {
    const table = Object.entries(CAMPAIGN_MOVES).flatMap(([from, tos]) => tos.map((to) => key(from, to)))
    expect(new Set(table)).toEqual(allowedKeys)
  })

  it.each(ALLOWED)('%s → %s is applied and audited (from, to, reason, actor, at)', async (from, to) => {
    const id = await campaignIn(from)
    const at = new Date('2024-06-03T12:00:00Z')
    const result = await transitionCampaign(t.pool, id, to, { actor: 'alice', reason: 'because', now: at })
    expect(result).toMatchObject({ campaignId: id, from, to, actor: 'alice', reason: 'because' })
    const { rows } = await t.pool.query('SELECT status, updated_at FROM campaigns WHERE id = $1', [id])
    expect(rows[0]).toEqual({ status: to, updated_at: at })
    expect(await listCampaignEvents(t.pool, id)).toEqual([
      { id: expect.any(Number), campaignId: id, from, to, reason: 'because', actor: 'alice', at },
    ])
  })

  it.each(REFUSED)('%s → %s is refused, says what is allowed, and changes nothing', async (from, to) => {
    const id = await campaignIn(from)
    const error = await transitionCampaign(t.pool, id, to, { actor: 'bob' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CampaignTransitionError)
    const e = error as CampaignTransitionError
    expect(e.code).toBe('MOVE_REFUSED')
    expect(e.message).toContain(`cannot move from ${from} to ${to}`)
    const allowed = CAMPAIGN_MOVES[from]
    expect(e.message).toContain(
      allowed.length ? `allowed from ${from}: ${allowed.join(', ')}` : `${from} is final: no move is allowed`,
    )
    const { rows } = await t.pool.query('SELECT status FROM campaigns WHERE id = $1', [id])
    expect(rows[0].status).toBe(from)
    expect(await listCampaignEvents(t.pool, id)).toEqual([])
  })

  it('a move to the current state is refused as ALREADY_IN_STATE', async () => {
    const id = await campaignIn('paused')
    await expect(pauseCampaign(t.pool, id, { actor: 'x' })).rejects.toMatchObject({
      code: 'ALREADY_IN_STATE',
      message: `Campaign "${id}" is already paused.`,
    })
  })

  it('an unknown campaign is CAMPAIGN_NOT_FOUND with a next step', async () => {
    await expect(transitionCampaign(t.pool, 'ghost', 'paused', { actor: 'x' })).rejects.toMatchObject({
      code: 'CAMPAIGN_NOT_FOUND',
      suggestion: 'Check the id with `dialctl campaign list`.',
    })
  })

  it('two concurrent pauses of one campaign: exactly one applies, the other is ALREADY_IN_STATE', async () => {
    for (let i = 0; i < 10; i++) {
      const id = await campaignIn('active')
      const results = await Promise.allSettled([
        pauseCampaign(t.pool, id, { actor: 'a' }),
        pauseCampaign(t.pool, id, { actor: 'b' }),
      ])
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect(rejected.reason).toMatchObject({ code: 'ALREADY_IN_STATE' })
      expect(await listCampaignEvents(t.pool, id)).toHaveLength(1)
    }
  })
})

describe('start, pause, resume', () => {
  it('start moves draft → active when the campaign has contacts', async () => {
    const id = await campaignIn('draft')
    await insertContacts(t.pool, id, 2)
    await expect(startCampaign(t.pool, id, { actor: 'ops' })).resolves.toMatchObject({
      from: 'draft',
      to: 'active',
    })
  })

  it('start refuses a campaign without contacts and says how to import them', async () => {
    const id = await campaignIn('draft')
    await expect(startCampaign(t.pool, id, { actor: 'ops' })).rejects.toMatchObject({
      code: 'NO_CONTACTS',
      message: `Campaign "${id}" has no contacts; it would have nothing to dial.`,
      suggestion: `Import contacts first: dialctl contacts import --campaign ${id} FILE (FILE: a CSV with a phone_number column, E.164)`,
    })
  })

  it("start takes an empty test campaign (its contacts come with load-test's tasks), unless autoComplete would end it at once", async () => {
    const id = await campaignIn('draft')
    await t.pool.query('UPDATE campaigns SET is_test = true WHERE id = $1', [id])
    await expect(startCampaign(t.pool, id, { actor: 'ops' })).resolves.toMatchObject({
      from: 'draft',
      to: 'active',
    })
    const auto = `lc-auto-${++seq}`
    await insertCampaign(t.pool, auto, { status: 'draft', config: { autoComplete: true } })
    await t.pool.query('UPDATE campaigns SET is_test = true WHERE id = $1', [auto])
    await expect(startCampaign(t.pool, auto, { actor: 'ops' })).rejects.toMatchObject({
      code: 'NO_CONTACTS',
      message: `Campaign "${auto}" has no contacts; starting it would complete it at once (autoComplete: true).`,
    })
  })

  it('start does not silently resume a paused campaign: it points to resume', async () => {
    const id = await campaignIn('paused')
    await insertContacts(t.pool, id, 1, undefined, { phoneOffset: 50 })
    const e = (await startCampaign(t.pool, id, { actor: 'ops' }).catch(
      (x: unknown) => x,
    )) as CampaignTransitionError
    expect(e.code).toBe('MOVE_REFUSED')
    expect(e.message).toContain('it accepts only draft')
    expect(e.suggestion).toContain('dialctl campaign resume')
  })

  it('start refuses a stored config that no longer validates, naming the field', async () => {
    const id = `lc-${++seq}`
    await t.pool.query(
      `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, 'x', 'draft', '{"maxConcurrentCalls": 0}', 'UTC')`,
      [id],
    )
    await expect(startCampaign(t.pool, id, { actor: 'ops' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('maxConcurrentCalls'),
    })
  })

  it('pause then resume leaves two audit rows, newest first', async () => {
    const id = await campaignIn('active')
    await pauseCampaign(t.pool, id, { actor: 'ops', reason: 'carrier issue' })
    await resumeCampaign(t.pool, id, { actor: 'ops', reason: 'fixed' })
    const events = await listCampaignEvents(t.pool, id)
    expect(events.map((e) => [e.from, e.to, e.reason])).toEqual([
      ['paused', 'active', 'fixed'],
      ['active', 'paused', 'carrier issue'],
    ])
  })
})
