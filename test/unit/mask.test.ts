import { describe, expect, it } from 'vitest'
import { maskPhone, maskPhonesIn } from '../../src/observability/mask.js'
import { callIdFor } from '../../src/contracts/messages.js'
import { contactRowProblem, E164_FORMAT, PhoneNumber } from '../../src/contracts/index.js'
import type { OperatorError } from '../../src/errors.js'
import { buildDialTask } from '../../src/tasks/build-task.js'

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

  // maskPhone lost its regexes (issue #17): the rule they wrote stays the reference.
  const byRegex = (phone: string) => {
    const digits = (phone.match(/\d/g) ?? []).length
    let seen = 0
    const keep = digits > 4 ? 2 : 0
    return phone.replace(/\d/g, (d) => (++seen > digits - keep ? d : '*'))
  }
  it.each([
    ...numbers,
    '',
    'abc',
    '1234',
    '12345',
    '+1 (212) 555-0101',
    '212.555.0101',
    '٣٤٥٦٧٨٩٠١٢',
    '+9725😀01234567',
    '0044 20 7946 0958',
  ])('%j is masked as the regex rule masks it', (text) => {
    expect(maskPhone(text)).toBe(byRegex(text))
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

// Review of issue #15 (F1–F3): call ids, separators and international prefixes, each kind as a table.
describe('phone masking: call ids', () => {
  const phoneIds = [
    '12125550101',
    '+12125550101',
    '972501234567',
    '+1 (212) 555-0101',
    'crm_2125550101',
    '5550101',
  ]
  it.each(phoneIds)(
    'the call id of a contact whose id is the number %s shows at most 2 of its digits',
    (contactId) => {
      for (const attempts of [0, 1, 12]) {
        const id = callIdFor({ campaignId: 'gala', contactId, attempts })
        const masked = maskPhonesIn(`dialing ${id} now`)
        expect(masked, id).not.toMatch(/\d{3}/)
        // the rest of the id (prefix, campaign, escapes, attempt) stays as it was
        expect(masked.replace(/[\d*]/g, ''), id).toBe(`dialing ${id} now`.replace(/\d/g, ''))
        expect(masked.endsWith(`.${attempts} now`), id).toBe(true)
      }
    },
  )

  const ordinary: [string, string, number][] = [
    ['spring-2026', '17', 1],
    ['gala-2026', 'c-42', 0],
    ['2026', '123456', 3],
    ['gala.2026', 'a.b', 2],
    ['x', '2026-11-30', 1],
  ]
  it.each(ordinary)(
    'an ordinary call id (%s, %s, %i) stays intact, in text and alone',
    (campaignId, contactId, attempts) => {
      const id = callIdFor({ campaignId, contactId, attempts })
      expect(maskPhonesIn(id)).toBe(id)
      expect(maskPhonesIn(`call ended ${id}, took 1234.5 ms`)).toBe(`call ended ${id}, took 1234.5 ms`)
    },
  )

  it('a contact id of 7+ digits is masked by the digit rule on that segment alone', () => {
    const id = callIdFor({ campaignId: 'gala-2026', contactId: '1000234', attempts: 1 })
    expect(maskPhonesIn(id)).toBe('call.gala-2026.*****34.1')
  })
})

describe('phone masking: how numbers are written', () => {
  const base = ['212', '555', '0101']
  const separators = [
    ' ',
    '-',
    '.',
    '_',
    '/',
    ' - ',
    ' . ',
    ' _ ',
    ' / ',
    '  ',
    '\u00a0',
    '\u2013',
    '\u2014',
    '\u2011',
    ' \u2013 ',
  ]
  it.each(separators)('groups joined by %j are one number', (sep) => {
    const n = base.join(sep)
    for (const form of [n, `dial ${n} failed`, `(${base[0]})${sep}${base[1]}${sep}${base[2]}`]) {
      expect(maskPhonesIn(form).replace(/\D/g, ''), form).toBe('01')
    }
  })

  // international (IDD) prefix + country code + national number, up to E.164's 15 digits after it
  const idd: [string, string][] = [
    ['00, Germany, 14 digits after', '0049301234567890'],
    ['00, 15 digits after', '00861234567890123'],
    ['011 (NANP), 15 digits after', '011861234567890123'],
    ['0011 (Australia), 15 digits after', '0011861234567890123'],
    ['010 (Japan)', '010447700900123'],
  ]
  it.each(idd)('%s: %s keeps at most 2 digits', (_what, n) => {
    expect(maskPhonesIn(`dial ${n}`).replace(/\D/g, '').length).toBeLessThanOrEqual(2)
  })

  const decimals: [string, string][] = [
    ['a number and an attempt', '12125550101.0'],
    ['a 7-digit number with a dot', '555.0101'],
    ['a number with 4 decimals', '2125.550101'],
  ]
  it.each(decimals)('one dot does not make %s a decimal: %s', (_what, n) => {
    expect(maskPhonesIn(n).replace(/\D/g, '').length).toBeLessThanOrEqual(2)
  })
})

// A queue message id is a UUID: read group by group, `…-a3480873ebc1` lost digits (`…-a*****73ebc1`)
// and the dead-letter WARN line no longer named its message. The whole kind: any UUID, any case.
describe('phone masking: UUIDs and hex ids stay intact', () => {
  /** mulberry32: a seeded PRNG, so the "random" UUIDs are the same on every run */
  function prng(seed: number): () => number {
    let a = seed
    return () => {
      a = (a + 0x6d2b79f5) | 0
      let t = Math.imul(a ^ (a >>> 15), 1 | a)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
  /** a UUID whose hex digits come from `next`; `digitBias` makes digit-only runs (the risky case) common */
  function uuid(next: () => number, digitBias: number): string {
    const hex = '0123456789abcdef'
    const char = () => (next() < digitBias ? hex[Math.floor(next() * 10)]! : hex[Math.floor(next() * 16)]!)
    const group = (n: number) => Array.from({ length: n }, char).join('')
    return [group(8), group(4), group(4), group(4), group(12)].join('-')
  }

  it('5000 seeded random UUIDs, lower and upper case, alone and inside text', () => {
    const next = prng(20261201)
    for (let i = 0; i < 5000; i++) {
      const id = uuid(next, [0, 0.5, 0.9, 1][i % 4]!)
      for (const form of [
        id,
        id.toUpperCase(),
        `moved ${id} to the dead-letter queue`,
        `{"messageId":"${id}"}`,
      ]) {
        expect(maskPhonesIn(form), form).toBe(form)
      }
    }
  })

  const table: [string, string][] = [
    ['the reported message id', 'b1d2c3e4-5f60-4a7b-8c9d-a3480873ebc1'],
    ['a UUID of digits only', '12125550-1010-4212-8555-012125550101'],
    ['a UUID inside a prefixed id', 'msg-f47ac10b-58cc-4372-a567-0e02b2c3d479'],
    ['an SQS message id', '5fea7756-0ea4-451a-a703-a558b933e274'],
  ]
  it.each(table)('%s stays intact: %s', (_what, id) => {
    expect(maskPhonesIn(id)).toBe(id)
  })

  // phone numbers inside ids that are not UUIDs are still masked
  const phones: [string, string, string][] = [
    ['a short hex-looking id with a prefix letter', 'c12125550101', 'c*********01'],
    [
      'an almost-UUID (last group 11 digits)',
      'f47ac10b-58cc-4372-a567-12125550101',
      'f47ac10b-58cc-4372-a***-*********01',
    ],
    [
      'a number after a UUID',
      'f47ac10b-58cc-4372-a567-0e02b2c3d479 2125550101',
      'f47ac10b-58cc-4372-a567-0e02b2c3d479 ********01',
    ],
    ['a number in a UUID-like id with a letter outside hex', 'contact-2125550101-x', 'contact-********01-x'],
  ]
  it.each(phones)('%s is masked: %s', (_what, input, masked) => {
    expect(maskPhonesIn(input)).toBe(masked)
  })
})

// Issue #15: a hint with an example number reached the operator as "e.g. +**********67" — every
// message passes the masker. Hints describe the format instead, and the masker leaves them alone.
describe('messages that say how to write a number', () => {
  const hints: [string, string | undefined][] = [
    ['E164_FORMAT', E164_FORMAT],
    ['the PhoneNumber refusal', PhoneNumber.safeParse('0501234567').error?.issues[0]?.message],
    [
      "import's refusal of a number",
      contactRowProblem({ id: 'k', phoneNumber: '0501234567', metadata: {} }, 'c')?.message,
    ],
    [
      "push's refusal",
      (() => {
        try {
          buildDialTask({ campaignId: 'c', phoneNumber: '0501234567' })
        } catch (error) {
          const { message, suggestion } = error as OperatorError
          return `${message} ${suggestion}`
        }
      })(),
    ],
  ]
  it.each(hints)('%s reads the same after the masker', (_what, hint) => {
    expect(hint).toMatch(/E\.164|\+44/)
    expect(maskPhonesIn(hint!)).toBe(hint)
  })
})
