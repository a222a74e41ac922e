import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { beginCall, finishCall } from '../../src/calls/recorder.js'
import { pauseCampaign, resumeCampaign } from '../../src/campaigns/lifecycle.js'
import { callIdFor, type DialCommand } from '../../src/contracts/index.js'
import { handleDispatch } from '../../src/dispatch/handler.js'
import { enrichBatch } from '../../src/enrich/enrich-batch.js'
import { createLogger } from '../../src/observability/logger.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { fixedLimits, insertCampaign, insertContacts, MemoryQueue } from './dispatch-fixtures.js'

/**
 * Pause mid-campaign, then resume, with the real downstream pieces: the dispatcher, the real
 * enrich batch handler (which releases tasks of a paused campaign) and the worker's call recorder
 * (beginCall / finishCall apply queued → dialing → done / pending / failed). Only the telephony is
 * simulated: the outcome of each attempt is a fixed function of (contact, attempt).
 */
let t: TestDb
beforeAll(async () => {
  t = await createTestDb('lcpause')
})
afterAll(async () => {
  await t?.drop()
})

const CONTACTS = 60
const MAX_ATTEMPTS = 3
const logger = createLogger('test-enrich', { level: 'SILENT' })

function outcomeOf(contactId: string, attempt: number): 'answered' | 'no-answer' | 'busy' {
  const n = Number(contactId.slice(3))
  const r = (n * 7 + attempt * 3) % 5
  return r === 0 ? 'answered' : r % 2 ? 'no-answer' : 'busy'
}

describe('pause mid-campaign, then resume', () => {
  it('dials nothing while paused, loses no contact, and every contact ends done or failed exactly once', async () => {
    await insertCampaign(t.pool, 'pr', {
      config: {
        autoComplete: true,
        maxConcurrentCalls: 20,
        maxAttemptsPerContact: MAX_ATTEMPTS,
        retryDelayMinutes: 0,
      },
    })
    await insertContacts(t.pool, 'pr', CONTACTS)
    const queue = new MemoryQueue()
    const deps = { db: t.pool, queue, limits: fixedLimits(100) }
    const finals = new Map<string, string[]>()
    const dialedWhile: string[] = []

    /** The pipe: up to n messages → enrich → worker (begin + finish each call). */
    const pipe = async (n = Infinity): Promise<number> => {
      const taken = queue.messages.splice(0, Math.min(n, queue.messages.length))
      if (!taken.length) return 0
      const enriched = await enrichBatch(
        taken.map((m) => ({ messageId: m.messageId, body: m.body })),
        { db: t.pool, logger },
      )
      for (const task of enriched) {
        const { rows } = await t.pool.query('SELECT status FROM campaigns WHERE id = $1', [task.campaignId])
        dialedWhile.push(rows[0].status)
        const cmd: DialCommand = {
          callId: callIdFor(task),
          phoneNumber: task.phoneNumber,
          campaignId: task.campaignId,
          contactId: task.contactId,
          audioFileUrl: task.campaign.config.audioFileUrl,
          ivrFlow: task.campaign.config.ivrFlow,
          metadata: task.metadata ?? {},
          attempt: task.attempts,
        }
        const begun = await beginCall(t.pool, cmd, 'test-worker')
        expect(begun.duplicate).toBe(false)
        const status = outcomeOf(task.contactId, task.attempts + 1)
        const finished = await finishCall(t.pool, {
          callId: begun.callId,
          campaignId: task.campaignId,
          contactId: task.contactId,
          attempt: begun.attempt,
          status,
          durationMs: 1000,
        })
        if (finished.contactStatus === 'done' || finished.contactStatus === 'failed')
          finals.set(task.contactId, [...(finals.get(task.contactId) ?? []), finished.contactStatus])
      }
      return enriched.length
    }
    const callCount = async () =>
      Number(
        (await t.pool.query(`SELECT count(*) FROM call_attempts WHERE campaign_id = 'pr'`)).rows[0].count,
      )

    // Running: 20 queued (the concurrency), half of them dialed.
    expect((await handleDispatch({ campaignId: 'pr' }, deps)).queued).toBe(20)
    expect(await pipe(10)).toBe(10)
    expect(queue.messages).toHaveLength(10)

    // Paused with 10 tasks still in the queue.
    await pauseCampaign(t.pool, 'pr', { actor: 'test', reason: 'mid-campaign' })
    const callsAtPause = await callCount()
    for (let i = 0; i < 3; i++) {
      const round = await handleDispatch({ campaignId: 'pr' }, deps)
      expect(round).toMatchObject({ campaignStatus: 'paused', queued: 0, hasMoreEligible: false })
    }
    expect(queue.messages).toHaveLength(10) // nothing new queued while paused
    expect(await pipe()).toBe(0) // enrich drops all 10: not dialed …
    expect(await callCount()).toBe(callsAtPause)
    const { rows: held } = await t.pool.query(
      `SELECT status, count(*)::int AS n FROM contacts WHERE campaign_id = 'pr' GROUP BY status ORDER BY status`,
    )
    expect(held.find((r) => r.status === 'queued')).toBeUndefined() // … and released, not lost
    expect(held.reduce((n, r) => n + r.n, 0)).toBe(CONTACTS)

    // Resumed: run rounds until the dispatcher completes the campaign.
    await resumeCampaign(t.pool, 'pr', { actor: 'test' })
    let rounds = 0
    for (;;) {
      const round = await handleDispatch({ campaignId: 'pr' }, deps)
      if (round.campaignStatus !== 'active') {
        expect(round).toMatchObject({
          campaignStatus: 'completed',
          eligibleRemaining: 0,
          hasMoreEligible: false,
        })
        break
      }
      await pipe()
      expect(++rounds).toBeLessThan(60)
    }

    expect(dialedWhile.every((s) => s === 'active')).toBe(true)
    const { rows: contacts } = await t.pool.query<{ id: string; status: string; attempts: number }>(
      `SELECT id, status, attempts FROM contacts WHERE campaign_id = 'pr'`,
    )
    const { rows: calls } = await t.pool.query<{ contact_id: string; attempt: number; status: string }>(
      `SELECT contact_id, attempt, status FROM call_attempts WHERE campaign_id = 'pr' ORDER BY attempt`,
    )
    expect(contacts).toHaveLength(CONTACTS)
    for (const c of contacts) {
      expect(['done', 'failed']).toContain(c.status)
      expect(finals.get(c.id)).toEqual([c.status]) // reached its final state exactly once
      const mine = calls.filter((a) => a.contact_id === c.id)
      expect(mine.map((a) => a.attempt)).toEqual([...Array(c.attempts).keys()]) // 0, 1, … no gap, no repeat
      const expected = mine.map((a) => outcomeOf(c.id, a.attempt + 1))
      expect(mine.map((a) => a.status)).toEqual(expected)
      if (c.status === 'done') expect(mine.at(-1)!.status).toBe('answered')
      else expect(mine).toHaveLength(MAX_ATTEMPTS)
    }
    // Both kinds of ending occur, so the check above covered both.
    expect(new Set(contacts.map((c) => c.status))).toEqual(new Set(['done', 'failed']))
  })
})
