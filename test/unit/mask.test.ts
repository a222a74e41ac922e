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

  // The forms people and CRMs write (issue #15's list), each inside a log message and an id.
  const table: [string, string, string][] = [
    ['national, dashes', 'dial 212-555-0101 failed', 'dial ***-***-**01 failed'],
    ['national, parentheses', 'dial (212) 555-0101 failed', 'dial (***) ***-**01 failed'],
    ['national, dots', 'dial 212.555.0101 failed', 'dial ***.***.**01 failed'],
    ['national, spaces', 'dial 212 555 0101 failed', 'dial *** *** **01 failed'],
    ['international 00 prefix', 'dial 0044 20 7946 0958', 'dial **** ** **** **58'],
    ['011 prefix', 'dial 011 44 20 7946 0958', 'dial *** ** ** **** **58'],
    ['digits inside an id', 'crm-2125550101', 'crm-********01'],
    ['id equal to the number, with +', '+12125550101', '+*********01'],
    ['id equal to the number, without +', '12125550101', '*********01'],
    [
      'the call id built from it',
      'call-demo-12125550101-1705318245000-2',
      'call-demo-*********01-1705318245000-2',
    ],
    ['E.164 with separators', 'retry +1 (415) 555-2671', 'retry +* (***) ***-**71'],
    ['7-digit number without +', 'contact 5550101', 'contact *****01'],
    ['8-digit national (+500 5123 4)', 'got 50051234', 'got ******34'],
    ['local 7 digits with a dash', 'call 555-0101', 'call ***-**01'],
    ['+ and 13 digits is a number, not an epoch', '+1705318245000', '+***********00'],
    ['two numbers in one message', 'from 2125550101 to 2125550102', 'from ********01 to ********02'],
  ]
  it.each(table)('%s: %s → %s', (_what, input, masked) => {
    expect(maskPhonesIn(input)).toBe(masked)
  })

  // What must stay readable: timestamps, durations, counts, addresses, ids that are no number.
  const readable: [string, string][] = [
    ['counts and durations', 'attempt 3 of 5, 120 ms, 1500ms, 12.5 s'],
    ['a duration with decimals', 'took 1234.567 ms'],
    ['a count written with separators', 'imported 1,234,567 contacts'],
    ['counts in a dispatch message', 'queued 10, released 0, capacity 250, inflight 123456'],
    ['ISO timestamp', '2026-11-30T21:06:29.123Z'],
    ['timestamp with a space', 'at 2026-11-30 21:06:29.123'],
    ['a date alone', 'window opens 2026-12-01'],
    ['IPv4 and port', 'connect ECONNREFUSED 127.0.0.1:6379'],
    ['uuid', 'f47ac10b-58cc-4372-a567-0e02b2c3d479'],
    ['X-Ray trace id', '1-5759e988-bd862e3fe1be46a994272793'],
    ['W3C trace id', 'trace 4bf92f3577b34da6a3ce929d0e0e4736'],
    ['a long digit run (an order id, over 15 digits)', 'order 1234567890123456789'],
    ['epoch milliseconds inside a call id', 'call-campaign-123-contact-456-1705318245000'],
    ['a version', 'dialctl 1.12.3 on node v20.11.1'],
    ['a PostgreSQL error code and a port', 'error 22P05 at port 54321'],
  ]
  it.each(readable)('leaves %s readable', (_what, text) => {
    expect(maskPhonesIn(text)).toBe(text)
  })
})
