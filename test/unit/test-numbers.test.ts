import { describe, expect, it } from 'vitest'
import { isE164 } from '../../src/contracts/phone.js'
import { isReservedTestNumber, TEST_NUMBER_COUNT, testNumber } from '../../src/tasks/test-numbers.js'

describe('reserved test numbers', () => {
  it('are all valid E.164, distinct and reserved', () => {
    const seen = new Set<string>()
    for (let i = 0; i < TEST_NUMBER_COUNT; i++) {
      const phone = testNumber(i)
      expect(isE164(phone), phone).toBe(true)
      expect(isReservedTestNumber(phone)).toBe(true)
      seen.add(phone)
    }
    expect(seen.size).toBe(TEST_NUMBER_COUNT)
    expect(TEST_NUMBER_COUNT).toBeGreaterThanOrEqual(20_000)
  })

  it('refuses real numbers', () => {
    expect(isReservedTestNumber('+972501234567')).toBe(false)
    expect(isReservedTestNumber('+12125551234')).toBe(false)
  })
})
