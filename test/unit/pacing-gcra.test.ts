import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLocalLimiter } from '../../src/pacing/degraded.js'
import { gcraAdmit, slotDelaysMs } from '../../src/pacing/gcra.js'

function worstWindow(slots: number[], width = 1_000_000): number {
  const s = [...slots].sort((a, b) => a - b)
  let worst = 0
  for (let lo = 0, hi = 0; hi < s.length; hi++) {
    while (s[hi]! - s[lo]! >= width) lo++
    worst = Math.max(worst, hi - lo + 1)
  }
  return worst
}

describe('slot scheduling (GCRA)', () => {
  it('worstWindow counts a half-open 1000 ms window', () => {
    expect(worstWindow([0, 999_999, 1_000_000])).toBe(2)
    expect(worstWindow([0, 500_000, 999_999])).toBe(3)
  })

  it('never puts more than `limit` slots in any 1000 ms window, whatever the call pattern', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 0, max: 20 })), {
          minLength: 1,
          maxLength: 300,
        }),
        (limit, calls) => {
          let now = 1_700_000_000_000_000
          let tat = 0
          const slots: number[] = []
          for (const [advance, n] of calls) {
            now += advance
            const d = gcraAdmit(tat, now, n, limit, 1_000_000)
            tat = d.tatMicros
            for (let i = 0; i < d.admitted; i++) slots.push(now + d.firstOffsetMicros + i * d.intervalMicros)
            expect(d.firstOffsetMicros).toBeLessThan(1_000_000)
          }
          expect(worstWindow(slots)).toBeLessThanOrEqual(limit)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('grants the whole budget under constant demand and spreads it over the second', () => {
    let tat = 0
    const slots: number[] = []
    for (let now = 0; now < 5_000_000; now += 50_000) {
      const d = gcraAdmit(tat, now, 10, 100, 1_000_000)
      tat = d.tatMicros
      for (let i = 0; i < d.admitted; i++) slots.push(now + d.firstOffsetMicros + i * d.intervalMicros)
    }
    expect(slots.filter((s) => s >= 1_000_000 && s < 4_000_000)).toHaveLength(300)
    expect(slots.filter((s) => s >= 1_000_000 && s < 1_100_000)).toHaveLength(10)
  })

  it('gives delays from now in ms', () => {
    expect(slotDelaysMs({ admitted: 3, firstOffsetMicros: 500, intervalMicros: 200_000 })).toEqual([
      0.5, 200.5, 400.5,
    ])
  })

  it('the local (degraded) limiter applies the same rule on the local clock', async () => {
    let now = 0
    const local = createLocalLimiter({ nowMicros: () => now })
    const a = await local.admit(10, 5)
    // (#12) the 5 refused are deferred to the next free slots: 1000, 1200, … ms
    expect(a).toEqual({
      mode: 'degraded',
      limit: 5,
      delaysMs: [0, 200, 400, 600, 800],
      deferDelaysMs: [1000, 1200, 1400, 1600, 1800],
    })
    const b = await local.admit(10, 5)
    expect(b.delaysMs).toEqual([])
    // promised after the first batch's deferrals, not the same slots again
    expect(b.deferDelaysMs.slice(0, 2)).toEqual([2000, 2200])
    // 200 ms later one more slot fits in the horizon: at 1000 ms, i.e. 800 ms from now
    now = 200_000
    expect((await local.admit(10, 5)).delaysMs).toEqual([800])
  })
})
