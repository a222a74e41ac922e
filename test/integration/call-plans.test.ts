import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimCall, finishCall, recordDonation } from '../../src/calls/recorder.js'
import { callIdFor, type DialCommand } from '../../src/contracts/index.js'
import { createPool } from '../../src/db/pool.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { campaignConfig, insertCampaign, insertContacts, phoneFor } from './dispatch-fixtures.js'

/**
 * The worker's per-call statements find their row by its key on a new, never analyzed table too
 * (migration 0019_call_path_indexes.sql). A PL/pgSQL function keeps the generic plan it makes
 * after five calls for the connection's life; made on a small new table, that plan once read a
 * campaign's every contact and call per dial, growing with each one. auto_explain reports the
 * plan of every statement the functions run (nested), as notices to this client.
 */

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Index Cond'?: string
  Plans?: PlanNode[]
}

const KEYS: Record<string, string[]> = {
  contacts: ['contacts_pkey'],
  call_attempts: ['call_attempts_pkey', 'call_attempts_campaign_id_contact_id_attempt_key'],
  campaigns: ['campaigns_pkey'],
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('callplans')
  await insertCampaign(t.pool, 'c', { config: campaignConfig({ maxAttemptsPerContact: 3 }) })
}, 60_000)
afterAll(async () => {
  await t?.drop()
})

/** A pool of one connection whose every statement's plan (nested ones too) lands in `plans`. */
function explainingPool(plans: PlanNode[]): pg.Pool {
  const pool = createPool({ schema: t.schema, max: 1 })
  pool.on('connect', (client) => {
    client.on('notice', (notice) => {
      const at = notice.message?.indexOf('plan:\n') ?? -1
      if (at >= 0) plans.push((JSON.parse(notice.message!.slice(at + 6)) as { Plan: PlanNode }).Plan)
    })
    // queued ahead of the first statement the pool runs on this client
    void client.query(
      `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
       SET auto_explain.log_format = json; SET auto_explain.log_level = notice`,
    )
  })
  return pool
}

function command(contactId: string, i: number): DialCommand {
  return {
    callId: callIdFor({ campaignId: 'c', contactId, attempts: 0 }),
    phoneNumber: phoneFor(i),
    campaignId: 'c',
    contactId,
    audioFileUrl: 'https://example.test/a.mp3',
    ivrFlow: {
      startNodeId: 'n1',
      nodes: [{ id: 'n1', type: 'play_audio', audioUrl: 'https://example.test/a.mp3' }],
    },
    metadata: {},
    attempt: 0,
  }
}

/** Claims, records a donation for and finishes `count` calls, one after the other, on one connection. */
async function dialAll(pool: pg.Pool, ids: string[], offset: number): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const cmd = command(id, offset + i)
    const claim = await claimCall(pool, cmd, 'w-plans')
    expect(claim.kind).toBe('claimed')
    const call = { callId: cmd.callId, campaignId: 'c', contactId: id, phoneNumber: cmd.phoneNumber }
    await recordDonation(pool, call, { digit: '1' })
    const done = await finishCall(pool, { ...call, attempt: 0, status: 'answered', digit: '1' })
    expect(done).toEqual({ recorded: true, contactStatus: 'done' })
  }
}

/** Every read of contacts, call_attempts and campaigns in `plans` goes through that table's key. */
function expectKeyLookups(plans: PlanNode[]): void {
  const reads = plans
    .flatMap(nodes)
    .filter(
      (n) =>
        n['Relation Name'] !== undefined && n['Relation Name'] in KEYS && n['Node Type'] !== 'ModifyTable',
    )
  expect(reads.length).toBeGreaterThan(0)
  for (const n of reads) {
    const where = `${n['Node Type']} on ${n['Relation Name']} via ${n['Index Name'] ?? '-'}`
    expect(KEYS[n['Relation Name']!], where).toContain(n['Index Name'])
    expect(n['Index Cond'], where).toBeDefined()
  }
}

describe('the per-call statements (gate_lock, gate_claim, donation, finish_call) use the keys', () => {
  it('on a new table, never analyzed, once the functions run their generic plans', async () => {
    // 12 calls: PL/pgSQL switches to its generic plan after the fifth; judge the last four
    const ids = await insertContacts(t.pool, 'c', 12, (i) => ({ id: `new-${i}`, status: 'queued' }))
    const plans: PlanNode[] = []
    const pool = explainingPool(plans)
    try {
      await dialAll(pool, ids.slice(0, 8), 0)
      plans.length = 0
      await dialAll(pool, ids.slice(8), 8)
    } finally {
      await pool.end()
    }
    expectKeyLookups(plans)
  })

  it('on a table of 20,000 contacts and calls, analyzed', async () => {
    await insertContacts(
      t.pool,
      'c',
      20_000,
      (i) => ({ id: `bg-${i}`, status: i % 3 ? 'done' : 'pending' }),
      {
        phoneOffset: 100,
      },
    )
    await t.pool.query(
      `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, worker_id, ended_at)
       SELECT 'bg-call-' || g, 'c', 'bg-' || g, 0, '+1303' || lpad(g::text, 7, '0'),
              CASE WHEN g % 50 = 0 THEN 'dialing' ELSE 'answered' END, 'w-old',
              CASE WHEN g % 50 = 0 THEN NULL ELSE now() END
         FROM generate_series(0, 19999) g`,
    )
    await t.pool.query('ANALYZE contacts, call_attempts')
    const ids = await insertContacts(t.pool, 'c', 10, (i) => ({ id: `late-${i}`, status: 'queued' }), {
      phoneOffset: 50_000,
    })
    const plans: PlanNode[] = []
    const pool = explainingPool(plans)
    try {
      await dialAll(pool, ids.slice(0, 6), 50_000)
      plans.length = 0
      await dialAll(pool, ids.slice(6), 50_006)
    } finally {
      await pool.end()
    }
    expectKeyLookups(plans)
  }, 60_000)
})

describe('the status checks (migration 0020: one array constant each)', () => {
  it('still refuse a status outside the lists', async () => {
    await insertContacts(t.pool, 'c', 1, () => ({ id: 'chk', status: 'queued' }), { phoneOffset: 90_000 })
    await t.pool.query(
      `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number) VALUES ('chk-call', 'c', 'chk', 0, $1)`,
      [phoneFor(90_000)],
    )
    await expect(
      t.pool.query(`UPDATE contacts SET status = 'lost' WHERE campaign_id = 'c' AND id = 'chk'`),
    ).rejects.toThrow(/contacts_status_check/)
    await expect(
      t.pool.query(`UPDATE call_attempts SET status = 'lost' WHERE call_id = 'chk-call'`),
    ).rejects.toThrow(/call_attempts_status_check/)
  })
})
