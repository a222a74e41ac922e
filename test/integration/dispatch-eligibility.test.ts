import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dispatchOnce } from '../../src/dispatch/dispatch.js'
import type { CallingWindow, CampaignStatus } from '../../src/contracts/index.js'
import { MAX_DIAL_TASK_BYTES } from '../../src/tasks/limits.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import {
  contactStatus,
  type ContactRow,
  fixedLimits,
  insertCampaign,
  insertContacts,
  MemoryQueue,
} from './dispatch-fixtures.js'

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('dispelig')
})
afterAll(async () => {
  await t?.drop()
})

let seq = 0
const nextId = (label: string) => `${label}-${++seq}`

/** One campaign with one due contact; returns what a dispatch at `now` did with it. */
async function dispatchOne(options: {
  now: Date
  windows?: CallingWindow[]
  timezone?: string
  campaignStatus?: CampaignStatus
  contact?: ContactRow
  maxAttempts?: number
  blacklist?: boolean
}) {
  const campaignId = nextId('c')
  await insertCampaign(t.pool, campaignId, {
    status: options.campaignStatus ?? 'active',
    timezone: options.timezone ?? 'UTC',
    config: {
      ...(options.windows ? { callingWindows: options.windows } : {}),
      maxAttemptsPerContact: options.maxAttempts ?? 3,
    },
  })
  const phone = '+97250' + String(100000 + seq).padStart(7, '0')
  await insertContacts(t.pool, campaignId, 1, () => ({
    phone,
    nextAttemptAt: new Date(0),
    ...options.contact,
  }))
  if (options.blacklist)
    await t.pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'opted out', 'test')`,
      [phone],
    )
  const queue = new MemoryQueue()
  const result = await dispatchOnce({
    db: t.pool,
    queue,
    limits: fixedLimits(),
    now: options.now,
    campaignId,
  })
  return {
    queue,
    result: result.campaigns[0]!,
    contact: (await contactStatus(t.pool, campaignId, 'ct-0'))!,
    campaignId,
    phone,
  }
}

// New York, weekdays 09:00–17:00 local. 2024-03-04 is a Monday (EST, UTC-5).
const NY_WEEKDAYS: CallingWindow[] = [{ dayOfWeek: [1, 2, 3, 4, 5], startHour: 9, endHour: 17 }]
// Sundays 09:00–17:00: 2024-03-10 is the US spring-forward Sunday (02:00 EST → 03:00 EDT).
const NY_SUNDAY: CallingWindow[] = [{ dayOfWeek: [0], startHour: 9, endHour: 17 }]
// Jerusalem, Sunday–Thursday 09:00–17:00 (the seed's window). 2024-10-27 is the IL fall-back
// Sunday (02:00 IDT → 01:00 IST), so 09:00 local is 07:00Z that day and 06:00Z the day before.
const IL_WEEK: CallingWindow[] = [{ dayOfWeek: [0, 1, 2, 3, 4], startHour: 9, endHour: 17 }]

describe('calling window (time zone, edges, day of week, DST)', () => {
  it.each([
    ['opening hour is inside (09:00:00 EST)', 'America/New_York', NY_WEEKDAYS, '2024-03-04T14:00:00Z', true],
    ['one second before opening is outside', 'America/New_York', NY_WEEKDAYS, '2024-03-04T13:59:59Z', false],
    ['last second before closing is inside', 'America/New_York', NY_WEEKDAYS, '2024-03-04T21:59:59Z', true],
    [
      'closing hour is outside (17:00:00 EST)',
      'America/New_York',
      NY_WEEKDAYS,
      '2024-03-04T22:00:00Z',
      false,
    ],
    ['Saturday mid-day is outside', 'America/New_York', NY_WEEKDAYS, '2024-03-09T16:00:00Z', false],
    [
      'Tuesday 00:30Z is still Monday 19:30 in New York (a Monday-only evening window is open)',
      'America/New_York',
      [{ dayOfWeek: [1], startHour: 18, endHour: 24 }],
      '2024-03-05T00:30:00Z',
      true,
    ],
    [
      'DST day: 13:30Z is 09:30 EDT (a fixed EST offset would say 08:30)',
      'America/New_York',
      NY_SUNDAY,
      '2024-03-10T13:30:00Z',
      true,
    ],
    [
      'DST day: 21:30Z is 17:30 EDT, closed (fixed EST would say 16:30)',
      'America/New_York',
      NY_SUNDAY,
      '2024-03-10T21:30:00Z',
      false,
    ],
    ['IL fall-back day: 07:00Z is 09:00 IST, open', 'Asia/Jerusalem', IL_WEEK, '2024-10-27T07:00:00Z', true],
    [
      'IL fall-back day: 06:30Z is 08:30 IST, closed (IDT would say 09:30)',
      'Asia/Jerusalem',
      IL_WEEK,
      '2024-10-27T06:30:00Z',
      false,
    ],
    ['IL Friday is outside', 'Asia/Jerusalem', IL_WEEK, '2024-10-25T09:00:00Z', false],
  ] as const)('%s', async (_name, timezone, windows, at, open) => {
    const { result, contact, queue } = await dispatchOne({
      now: new Date(at),
      timezone,
      windows: windows.map((w) => ({ ...w, dayOfWeek: [...w.dayOfWeek] })),
    })
    expect(result.windowOpen).toBe(open)
    expect(result.queued).toBe(open ? 1 : 0)
    expect(contact.status).toBe(open ? 'queued' : 'pending')
    expect(queue.messages).toHaveLength(open ? 1 : 0)
    if (!open) {
      // A closed window: the loop sleeps until it opens (capped at 300 s by default), not 0.
      expect(result.hasMoreEligible).toBe(true)
      expect(result.waitSeconds).toBeGreaterThan(0)
    }
  })

  it('suggests waiting exactly until the window opens when that is within the cap', async () => {
    const { result } = await dispatchOne({
      now: new Date('2024-03-04T13:58:20Z'), // 100 s before 09:00 EST
      timezone: 'America/New_York',
      windows: NY_WEEKDAYS,
    })
    expect(result.waitSeconds).toBe(100)
  })
})

describe('contact and campaign state', () => {
  const now = new Date('2024-06-03T12:00:00Z')

  it.each([
    ['attempts one below the limit: queued, task carries the attempts made', { attempts: 2 }, 3, 'queued'],
    ['attempts at the limit: never queued, failed (max_attempts)', { attempts: 3 }, 3, 'failed'],
    ['next attempt due exactly now: queued', { nextAttemptAt: now }, 3, 'queued'],
    [
      'next attempt one second later (retry spacing): stays pending',
      { nextAttemptAt: new Date(now.getTime() + 1000) },
      3,
      'pending',
    ],
    ['already queued: untouched', { status: 'queued' }, 3, 'queued'],
    ['dialing: untouched', { status: 'dialing' }, 3, 'dialing'],
    ['done: untouched', { status: 'done' }, 3, 'done'],
    ['failed: untouched', { status: 'failed' }, 3, 'failed'],
  ] as const)('%s', async (_name, contact, maxAttempts, expected) => {
    const { result, contact: after, queue } = await dispatchOne({ now, contact: { ...contact }, maxAttempts })
    expect(after.status).toBe(expected)
    const wasQueuedHere = expected === 'queued' && !('status' in contact)
    expect(result.queued).toBe(wasQueuedHere ? 1 : 0)
    expect(queue.tasks).toHaveLength(wasQueuedHere ? 1 : 0)
    if (wasQueuedHere) expect(queue.tasks[0]!.attempts).toBe((contact as ContactRow).attempts ?? 0)
    if (expected === 'failed' && 'attempts' in contact) expect(after.last_outcome).toBe('max_attempts')
  })

  it('skips a blacklisted number and marks the contact failed (blacklisted), recorded in task_outcomes', async () => {
    const { result, contact, queue, campaignId } = await dispatchOne({ now, blacklist: true })
    expect(result.queued).toBe(0)
    expect(queue.messages).toHaveLength(0)
    expect(contact).toMatchObject({ status: 'failed', last_outcome: 'blacklisted' })
    const { rows } = await t.pool.query(
      `SELECT stage, outcome, reason FROM task_outcomes WHERE campaign_id = $1`,
      [campaignId],
    )
    expect(rows).toEqual([{ stage: 'dispatcher', outcome: 'dropped', reason: 'number is blacklisted' }])
  })

  it.each(['draft', 'paused', 'completed', 'cancelled'] as const)(
    'a %s campaign queues nothing and tells the loop to stop',
    async (status) => {
      const { result, contact, queue } = await dispatchOne({ now, campaignStatus: status })
      expect(contact.status).toBe('pending')
      expect(queue.messages).toHaveLength(0)
      expect(result).toMatchObject({
        campaignStatus: status,
        queued: 0,
        hasMoreEligible: false,
        waitSeconds: 0,
      })
    },
  )

  it('retry spacing: a contact becomes eligible when next_attempt_at is reached, and the wait says when', async () => {
    const campaignId = nextId('retry')
    await insertCampaign(t.pool, campaignId)
    const due = new Date(now.getTime() + 90_000)
    await insertContacts(t.pool, campaignId, 1, () => ({
      attempts: 1,
      nextAttemptAt: due,
      phone: '+972509990001',
    }))
    const queue = new MemoryQueue()
    const before = await dispatchOnce({ db: t.pool, queue, limits: fixedLimits(), now, campaignId })
    expect(before.campaigns[0]).toMatchObject({ queued: 0, hasMoreEligible: true, waitSeconds: 90 })
    const at = await dispatchOnce({ db: t.pool, queue, limits: fixedLimits(), now: due, campaignId })
    expect(at.campaigns[0]!.queued).toBe(1)
    expect(queue.tasks).toEqual([
      { campaignId, contactId: 'ct-0', phoneNumber: '+972509990001', metadata: { n: 0 }, attempts: 1 },
    ])
  })

  it('a stored number that is not valid E.164 is failed (invalid_phone), not sent', async () => {
    const { result, contact, queue } = await dispatchOne({ now, contact: { phone: '0501234567' } })
    expect(result).toMatchObject({ queued: 0, invalid: 1 })
    expect(queue.sendCalls).toHaveLength(0)
    expect(contact).toMatchObject({ status: 'failed', last_outcome: 'invalid_phone' })
  })

  // Issue #15: a task the worker would refuse (over MAX_DIAL_TASK_BYTES with the campaign's config)
  // or the queue's contract refuses (an id over 200 characters) is one recorded refusal, not a send.
  const refusals: [string, ContactRow, string, RegExp][] = [
    [
      'a task over the size limit',
      { metadata: { notes: 'x'.repeat(MAX_DIAL_TASK_BYTES) } },
      'task_too_large',
      new RegExp(`task too large: the dial task would be \\d+ bytes; the limit is ${MAX_DIAL_TASK_BYTES}`),
    ],
    [
      'a contact id over 200 characters',
      { id: 'k'.repeat(201) },
      'invalid_contact',
      /invalid contact: contactId/,
    ],
  ]
  it.each(refusals)(
    '%s is failed with one dropped outcome, never sent',
    async (_what, row, lastOutcome, reason) => {
      const { result, queue, campaignId } = await dispatchOne({ now, contact: row })
      expect(result).toMatchObject({ queued: 0, invalid: 1, released: 0 })
      expect(queue.sendCalls).toHaveLength(0)
      const id = row.id ?? 'ct-0'
      const contact = await contactStatus(t.pool, campaignId, id)
      expect(contact).toMatchObject({ status: 'failed', last_outcome: lastOutcome })
      const { rows } = await t.pool.query<{ stage: string; outcome: string; reason: string }>(
        'SELECT stage, outcome, reason FROM task_outcomes WHERE campaign_id = $1 AND contact_id = $2',
        [campaignId, id],
      )
      expect(rows).toEqual([
        { stage: 'dispatcher', outcome: 'dropped', reason: expect.stringMatching(reason) },
      ])
      // the next run does not claim it again
      const again = await dispatchOnce({ db: t.pool, queue, limits: fixedLimits(), now, campaignId })
      expect(again.campaigns[0]).toMatchObject({ queued: 0, invalid: 0 })
      expect(queue.sendCalls).toHaveLength(0)
    },
  )
})
