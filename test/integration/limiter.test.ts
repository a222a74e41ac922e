import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCpsHistory } from '../../src/pacing/history.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

/** Largest number of slots inside any half-open window [t, t + widthMicros). */
function worstWindow(slotsMicros: number[], widthMicros = 1_000_000): number {
  const s = [...slotsMicros].sort((a, b) => a - b)
  let worst = 0
  let lo = 0
  for (let hi = 0; hi < s.length; hi++) {
    while (s[hi]! - s[lo]! >= widthMicros) lo++
    worst = Math.max(worst, hi - lo + 1)
  }
  return worst
}

let t: TestRedis
beforeAll(async () => {
  t = await createTestRedis('limiter')
})
afterAll(async () => {
  await t.cleanup()
})

describe('redis limiter (admit-1.lua)', () => {
  it('is exact under 200 concurrent callers at limit 100 and grants >= 99% of the budget', async () => {
    const limiter = createRedisLimiter({ redis: t.redis, prefix: `${t.prefix}exact:` })
    const limit = 100
    const slots: number[] = []
    let refused = 0
    const until = Date.now() + 3500
    const caller = async (id: number) => {
      while (Date.now() < until) {
        const n = 1 + (id % 10)
        const a = await limiter.admit(n, limit)
        slots.push(...a.slotsMicros!)
        refused += n - a.delaysMs.length
        // A Lambda would wait for its slots; here the callers keep asking so demand stays far
        // above the budget.
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    await Promise.all(Array.from({ length: 200 }, (_, i) => caller(i)))

    expect(refused).toBeGreaterThan(0)
    expect(worstWindow(slots)).toBeLessThanOrEqual(limit)
    // Budget over the first three seconds of slots: limit × 3.
    const first = Math.min(...slots)
    const inThree = slots.filter((s) => s < first + 3_000_000).length
    expect(inThree).toBeGreaterThanOrEqual(0.99 * limit * 3)
    // Spread, not a burst: the first 100 ms of a second holds about a tenth of its budget.
    const inFirst100ms = slots.filter((s) => s >= first && s < first + 100_000).length
    expect(inFirst100ms).toBeLessThanOrEqual(limit / 10 + 1)
  })

  it('admits k of n in one call, slots spaced 1/limit apart and at most the horizon ahead', async () => {
    const limiter = createRedisLimiter({ redis: t.redis, prefix: `${t.prefix}k:` })
    const a = await limiter.admit(10, 4)
    // horizon 1 s at 4 CPS: slots at 0, 250, 500, 750 ms
    expect(a.delaysMs.length).toBe(4)
    expect(a.delaysMs).toEqual([0, 250, 500, 750])
    expect(a.mode).toBe('redis')
    const b = await limiter.admit(3, 4)
    // the next free slot is ~1 s ahead, beyond the horizon (or at most one slot when time moved on)
    expect(b.delaysMs.length).toBeLessThanOrEqual(1)
  })

  it('records admitted and rate-limited counts per second for readCpsHistory', async () => {
    const prefix = `${t.prefix}hist:`
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    const a = await limiter.admit(30, 10)
    expect(a.delaysMs.length).toBe(10)
    const h = await readCpsHistory(t.redis, 60, { prefix })
    expect(h.seconds).toHaveLength(60)
    // 10 slots over the next second: split between this second and the next one
    expect(h.admitted).toBeGreaterThanOrEqual(1)
    expect(h.admitted).toBeLessThanOrEqual(10)
    expect(h.rateLimited).toBe(20)
    expect(h.seconds.at(-1)!.rateLimited).toBeGreaterThanOrEqual(0)
    expect(h.rateLimitedShare).toBeGreaterThan(0.6)
    const empty = await readCpsHistory(t.redis, 10, { prefix: `${t.prefix}none:` })
    expect(empty).toMatchObject({ admitted: 0, rateLimited: 0, rateLimitedShare: 0 })
  })

  it('rejects a limit below 1 with a message naming the limit', async () => {
    const limiter = createRedisLimiter({ redis: t.redis, prefix: `${t.prefix}bad:` })
    await expect(limiter.admit(1, 0)).rejects.toThrow(/limit must be an integer >= 1/)
  })
})
