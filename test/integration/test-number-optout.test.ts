import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addToBlacklist } from '../../src/calls/recorder.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('optout')
})
afterAll(async () => {
  await t?.drop()
})

const call = (phoneNumber: string) => ({ callId: 'c1', campaignId: 'demo', contactId: 'x', phoneNumber })

describe('the IVR opt-out (add_to_blacklist)', () => {
  it('lists a real number globally', async () => {
    expect(await addToBlacklist(t.pool, call('+972501234567'), 'pressed 9')).toBe(true)
    const { rows } = await t.pool.query(
      `SELECT campaign_id, source FROM blacklist WHERE phone_number = '+972501234567'`,
    )
    expect(rows).toEqual([{ campaign_id: 'demo', source: 'ivr' }])
  })

  it('never lists a reserved test number: a simulated callee must not shrink later load tests', async () => {
    for (const i of [0, 1, 99, 12_345])
      expect(await addToBlacklist(t.pool, call(testNumber(i)), 'pressed 9')).toBe(false)
    const { rows } = await t.pool.query(
      `SELECT count(*)::int AS n FROM blacklist WHERE phone_number LIKE '+1%'`,
    )
    expect(rows[0].n).toBe(0)
  })
})
