import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { callIdFor, DialCommand, DialTask, dialIdempotencyKey } from '../../src/contracts/index.js'

const ARI_SAFE = /^[A-Za-z0-9._-]{1,150}$/

describe('callIdFor', () => {
  it('the pairs that used to collide get distinct ids', () => {
    expect(callIdFor({ campaignId: 'gala', contactId: '2026-17', attempts: 0 })).not.toBe(
      callIdFor({ campaignId: 'gala-2026', contactId: '17', attempts: 0 }),
    )
    expect(dialIdempotencyKey({ campaignId: 'a:b', contactId: 'c', attempts: 0 })).not.toBe(
      dialIdempotencyKey({ campaignId: 'a', contactId: 'b:c', attempts: 0 }),
    )
    expect(callIdFor({ campaignId: 'gala', contactId: '2026-17', attempts: 3 })).toBe('call.gala.2026-17.3')
    expect(callIdFor({ campaignId: 'a.b', contactId: 'c_d é', attempts: 0 })).toBe(
      'call.a_2eb.c_5fd_20_c3_a9.0',
    )
  })

  it('is injective, deterministic and ARI-safe for any ids (property)', () => {
    const id = fc.string({ minLength: 1, maxLength: 200, unit: 'binary' })
    const triple = fc.record({ campaignId: id, contactId: id, attempts: fc.integer({ min: 0, max: 1000 }) })
    fc.assert(
      fc.property(triple, triple, (a, b) => {
        const ia = callIdFor(a)
        expect(ia).toMatch(ARI_SAFE)
        expect(callIdFor({ ...a })).toBe(ia)
        const same = a.campaignId === b.campaignId && a.contactId === b.contactId && a.attempts === b.attempts
        expect(ia === callIdFor(b)).toBe(same)
      }),
      { numRuns: 2000, seed: 11 },
    )
  })

  it('long ids fall back to the hashed form, still distinct', () => {
    const long = 'x'.repeat(150)
    const a = callIdFor({ campaignId: long, contactId: 'a', attempts: 0 })
    expect(a).toMatch(/^callh\.[0-9a-f]{64}$/)
    expect(callIdFor({ campaignId: long, contactId: 'b', attempts: 0 })).not.toBe(a)
  })
})

describe('DialTask at the boundary', () => {
  const task = { campaignId: 'c', contactId: 'k', phoneNumber: '+972501234567', attempts: 0 }
  it('bounds attempts to 0…1000, naming the field', () => {
    expect(DialTask.safeParse({ ...task, attempts: 1000 }).success).toBe(true)
    const over = DialTask.safeParse({ ...task, attempts: 2147483647 })
    expect(over.success).toBe(false)
    expect(over.error?.issues[0]?.path).toEqual(['attempts'])
  })
  it('refuses NUL and other control characters in ids and metadata, naming the field', () => {
    for (const [field, value] of [
      ['contactId', 'a\u0000b'],
      ['campaignId', 'c\u001b[31m'],
    ] as const) {
      const r = DialTask.safeParse({ ...task, [field]: value })
      expect(r.success).toBe(false)
      expect(r.error?.issues[0]?.path).toEqual([field])
      expect(r.error?.issues[0]?.message).toMatch(/control characters/)
    }
    const meta = DialTask.safeParse({ ...task, metadata: { name: 'x\u0000' } })
    expect(meta.error?.issues[0]?.path).toEqual(['metadata'])
    expect(DialCommand.shape.attempt.safeParse(5000).success).toBe(false)
  })
})
