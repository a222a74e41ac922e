import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CampaignReport } from '../../src/campaigns/report.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign, insertContacts } from '../integration/dispatch-fixtures.js'
import { dialctl, jsonOf } from './helpers.js'

/** RFC 4180 records with a header row → objects (no multi-line cells in this export). */
function parseCsv(text: string): Record<string, string>[] {
  const records = text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const cells: string[] = []
      const re = /("(?:[^"]|"")*"|[^,]*)(,|$)/g
      for (const m of line.matchAll(re)) {
        const raw = m[1]!
        cells.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw)
        if (m[2] === '') break
      }
      return cells
    })
  const [head, ...rows] = records
  return rows.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ''])))
}

let db: TestDb
const saved = { ...process.env }

beforeAll(async () => {
  db = await createTestDb('cmdreport')
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_STAGE: 'local',
    NO_COLOR: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
  await insertCampaign(db.pool, 'rep')
  // Contact ids come from imported files: one is a spreadsheet formula.
  const ids = ['a', 'b', 'c', '=HYPERLINK("http://evil.example","x")', 'e']
  const states = ['done', 'done', 'failed', 'pending', 'dialing']
  await insertContacts(db.pool, 'rep', ids.length, (i) => ({ id: ids[i], status: states[i] }))
  await db.pool.query(
    `INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, duration_ms) VALUES
     ('r1', 'rep', 'a', 0, '+972500000000', 'no-answer', 1000),
     ('r2', 'rep', 'a', 1, '+972500000000', 'answered', 30000),
     ('r3', 'rep', 'b', 0, '+972500000001', 'answered', 20000),
     ('r4', 'rep', 'c', 0, '+972500000002', 'busy', 1000),
     ('r5', 'rep', 'c', 1, '+972500000002', 'failed', 1000),
     ('r6', 'rep', 'e', 0, '+972500000004', 'dialing', NULL)`,
  )
  await db.pool.query(`INSERT INTO donations (call_id, campaign_id, contact_id) VALUES ('r2', 'rep', 'a')`)
  await db.pool.query(
    `INSERT INTO blacklist (phone_number, reason, source, campaign_id) VALUES ('+972500000001', 'pressed 9', 'ivr', 'rep')`,
  )
})

afterAll(async () => {
  process.env = saved
  await db.drop()
})

describe('dialctl campaign report', () => {
  it('--json: outcomes, rates with their denominators, donations, opt-outs, dials per contact', async () => {
    const run = await dialctl(['campaign', 'report', 'rep', '--json'])
    expect(run.exitCode).toBe(0)
    const r = jsonOf(run) as CampaignReport
    expect(r).toMatchObject({
      campaignId: 'rep',
      contacts: { total: 5, byState: { done: 2, failed: 1, pending: 1, dialing: 1 } },
      dials: {
        total: 6,
        finished: 5,
        byOutcome: { answered: 2, busy: 1, dialing: 1, failed: 1, 'no-answer': 1 },
      },
      answerRate: { count: 2, of: 5, rate: 0.4 },
      contactsReached: { count: 2, of: 4, rate: 0.5 },
      donations: { count: 1, of: 2, rate: 0.5 },
      optOuts: { count: 1, of: 2, rate: 0.5 },
      attemptsPerContact: { mean: 1.5, histogram: { '0': 1, '1': 2, '2': 2 } },
    })
  })

  it('the table states every denominator', async () => {
    const run = await dialctl(['campaign', 'report', 'rep'])
    expect(run.exitCode).toBe(0)
    // the rate first, under its label, with its count and denominator (#16)
    expect(run.stdout).toContain('Answer rate    40.0% (2 of 5 finished dials)')
    expect(run.stdout).toContain('Donations      50.0% (1 of 2 answered calls)')
    expect(run.stdout).toContain('Opt-outs       50.0% (1 of 2 answered calls)')
    expect(run.stdout).toContain(
      'Reached        50.0% (2 of 4 contacts dialed) answered at least once (1 dial still in progress)',
    )
    // the undialed contact (0 dials) is not in a per-contact-dialed histogram
    expect(run.stdout).toContain('Dials/contact  1.50 per contact dialed (contacts × dials: 2 × 1, 2 × 2)')
    expect(run.stdout).toMatch(/│ dialing +│ 1 +│ in progress/)
  })

  it('--format csv: one row per contact, phones masked, formulas neutralised', async () => {
    const run = await dialctl(['campaign', 'report', 'rep', '--format', 'csv'])
    expect(run.exitCode).toBe(0)
    const rows = parseCsv(run.stdout)
    expect(rows).toHaveLength(5)
    const evil = rows.find((r) => r.contactId!.includes('HYPERLINK'))!
    expect(evil.contactId).toBe(`'=HYPERLINK("http://evil.example","x")`)
    // Every cell a spreadsheet would evaluate starts with the quote: none starts with = + - @.
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/)
    expect(rows.find((r) => r.contactId === 'a')).toMatchObject({
      phone: expect.stringMatching(/^'\+\**\d*\**\d+$/),
      state: 'done',
      attempts: '2',
      answered: 'true',
      donated: 'true',
      optedOut: 'false',
      // the zone(s) the calling window is judged in, and their source (issue #11)
      // (this contact has no zone of its own and none stored for its number: the campaign's applies)
      calleeZones: 'UTC (campaign)',
    })
    expect(rows.find((r) => r.contactId === 'b')).toMatchObject({ optedOut: 'true', donated: 'false' })
    expect(run.stdout).not.toContain('+972500000000')
  })

  it('--format json: a JSON array of the same rows; an unknown campaign says what to run', async () => {
    const run = await dialctl(['campaign', 'report', 'rep', '--format', 'json'])
    const rows = JSON.parse(run.stdout) as { contactId: string; attempts: number }[]
    expect(rows.map((r) => [r.contactId, r.attempts])).toEqual([
      ['=HYPERLINK("http://evil.example","x")', 0],
      ['a', 2],
      ['b', 1],
      ['c', 2],
      ['e', 1],
    ])
    const unknown = await dialctl(['campaign', 'report', 'nope'])
    expect(unknown.exitCode).toBe(1)
    expect(unknown.stderr).toContain('→ Check the id with `dialctl campaign list`.')
  })
})
