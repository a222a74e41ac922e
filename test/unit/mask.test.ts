import { describe, expect, it } from 'vitest'
import { maskPhone, maskPhonesIn } from '../../src/observability/mask.js'

// Issue #15: masking by rule, not by shape — at most the last 2 digits, with or without '+'.
const numbers = [
  '+972501234567',
  '+50051234',
  '+2908999',
  '+12125550100',
  '+447700900123',
  '+861234567890123',
]

describe('phone masking', () => {
  it.each(numbers)('%s keeps at most its last 2 digits', (n) => {
    const masked = maskPhone(n)
    expect(masked).toBe('+' + '*'.repeat(n.length - 3) + n.slice(-2))
  })

  it.each(numbers)('%s is masked inside text in every form it appears', (n) => {
    const bare = n.slice(1)
    const forms = [
      n,
      bare,
      `c-${bare}`,
      `call-${bare}-2`,
      `contact ${bare} failed`,
      `{"phoneNumber":"${n}"}`,
      `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`,
    ]
    for (const form of forms) {
      const masked = maskPhonesIn(form)
      const digitsLeft = masked.replace(/\D/g, '')
      // nothing of the number left but (at most) its last 2 digits
      expect(masked, form).not.toContain(bare.slice(0, -2))
      expect(digitsLeft.length, form).toBeLessThanOrEqual(form.replace(/\D/g, '').length - bare.length + 2)
    }
  })

  it('leaves what is not a number: short counts, timestamps with separators, uuids, long digit runs', () => {
    for (const text of [
      'attempt 3 of 5, 120 ms',
      '2026-11-30T21:06:29.123Z',
      'f47ac10b-58cc-4372-a567-0e02b2c3d479',
      'order 1234567890123456789',
      'call-campaign-123-contact-456-1705318245000',
    ])
      expect(maskPhonesIn(text)).toBe(text)
  })
})
