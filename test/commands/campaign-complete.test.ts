import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CampaignTransition } from '../../src/control/port.js'
import { demoCampaign } from '../../src/local-stack/demo.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { dialctl, jsonOf } from './helpers.js'

let db: TestDb
let redis: TestRedis
const saved = { ...process.env }

async function createCampaign(id: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dialctl-complete-'))
  const path = join(dir, `${id}.json`)
  writeFileSync(
    path,
    JSON.stringify({ id, name: id, timezone: 'UTC', config: structuredClone(demoCampaign.config) }),
  )
  // its audio is a URL this sandbox cannot reach (audio-check.test.ts covers the check)
  expect((await dialctl(['campaign', 'create', '--file', path, '--no-audio-check'])).exitCode).toBe(0)
  // a campaign starts only with contacts
  const csv = join(dir, `${id}.csv`)
  writeFileSync(csv, 'id,phone_number\nk1,+442079460001\n')
  expect((await dialctl(['contacts', 'import', '--campaign', id, csv])).exitCode).toBe(0)
}

beforeAll(async () => {
  db = await createTestDb('cmdcomplete')
  redis = await createTestRedis('cmdcomplete')
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_REDIS_PREFIX: redis.prefix,
    DIALCTL_STAGE: 'local',
    DIALCTL_ACTOR: 'tester',
    NO_COLOR: '1',
  })
})
afterAll(async () => {
  process.env = saved
  await redis.cleanup()
  await db.drop()
})

describe('dialctl campaign complete', () => {
  it('active → completed with its reason, audited; final afterwards', async () => {
    await createCampaign('camp-done')
    expect((await dialctl(['campaign', 'start', 'camp-done', '--no-audio-check'])).exitCode).toBe(0)

    const done = await dialctl(['campaign', 'complete', 'camp-done', '--reason', 'season over', '--json'])
    expect(done.exitCode).toBe(0)
    expect(CampaignTransition.parse(jsonOf(done))).toMatchObject({
      from: 'active',
      to: 'completed',
      reason: 'season over',
      actor: 'tester',
    })
    const { rows } = await db.pool.query(
      `SELECT from_status, to_status, reason, actor FROM campaign_events WHERE campaign_id = 'camp-done' ORDER BY id DESC LIMIT 1`,
    )
    expect(rows).toEqual([
      { from_status: 'active', to_status: 'completed', reason: 'season over', actor: 'tester' },
    ])

    // completed is final: resuming is refused (exit 1); completing again has nothing to do (exit 0,
    // as every move to the state a campaign is already in), records nothing; the status unchanged
    expect((await dialctl(['campaign', 'resume', 'camp-done'])).exitCode).toBe(1)
    const again = await dialctl(['campaign', 'complete', 'camp-done', '--reason', 'again'])
    expect(again.exitCode).toBe(0)
    expect(again.stdout).toContain('already completed')
    const { rows: status } = await db.pool.query(`SELECT status FROM campaigns WHERE id = 'camp-done'`)
    expect(status).toEqual([{ status: 'completed' }])
    const { rows: events } = await db.pool.query(
      `SELECT count(*)::int AS n FROM campaign_events WHERE campaign_id = 'camp-done' AND to_status = 'completed'`,
    )
    expect(events).toEqual([{ n: 1 }])
  })

  it('needs --reason (usage, exit 2) and names an unknown campaign (exit 1)', async () => {
    await createCampaign('camp-noreason')
    expect((await dialctl(['campaign', 'complete', 'camp-noreason'])).exitCode).toBe(2)
    const unknown = await dialctl(['campaign', 'complete', 'nope', '--reason', 'x'])
    expect(unknown.exitCode).toBe(1)
    expect(unknown.stderr).toContain('nope')
  })
})
