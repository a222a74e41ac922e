import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { sleep } from '../../src/clock.js'
import { readCpsHistory } from '../../src/pacing/history.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { primeLimiter } from '../helpers/pacing.js'
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
async function redisNowMicros(): Promise<number> {
  const [sec, micros] = await t.redis.time()
  return Number(sec) * 1_000_000 + Number(micros)
}
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
    // Callers run until the limiter has granted three whole seconds of slots (it grants them in
    // order: one atomic script on one key), so every slot of the window checked below exists; the
    // timeout only bounds a limiter that stops granting.
    const granted = new AbortController()
    const end = AbortSignal.any([granted.signal, AbortSignal.timeout(15_000)])
    let firstSlot = Infinity
    const caller = async (id: number) => {
      while (!end.aborted) {
        const n = 1 + (id % 10)
        const a = await limiter.admit(n, limit)
        slots.push(...a.slotsMicros!)
        for (const s of a.slotsMicros!) {
          firstSlot = Math.min(firstSlot, s)
          if (s >= firstSlot + 3_000_000) granted.abort()
        }
        refused += n - a.delaysMs.length
        // As a dialer does: wait for the last slot granted, or until the limiter said to come back
        // (a deferral) — the limiter's own schedule, not a fixed pause. 200 callers keep demand
        // far above the budget.
        await sleep(a.delaysMs.at(-1) ?? a.deferDelaysMs[0] ?? 0, end)
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
    await primeLimiter(t.redis, `${t.prefix}k:`)
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

  it('a new or lost state pauses one horizon, and refusals during that pause are not counted as rate limiting', async () => {
    const prefix = `${t.prefix}fresh:`
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    // no state: slots granted before a loss may lie up to a horizon ahead, so none now
    const first = await limiter.admit(2, 100)
    expect(first.delaysMs).toEqual([])
    expect(first.deferDelaysMs[0]).toBeGreaterThanOrEqual(1000)
    // ...which is not demand above the limit: status and doctor read the history as that
    expect((await readCpsHistory(t.redis, 60, { prefix })).rateLimited).toBe(0)
    // a second batch during the pause is refused by it too, not by the limit
    const second = await limiter.admit(5, 100)
    expect(second.delaysMs.length).toBeLessThan(5)
    expect((await readCpsHistory(t.redis, 60, { prefix })).rateLimited).toBe(0)
  })

  it('after the missing-state pause, a refusal is rate limiting and counted', async () => {
    const prefix = `${t.prefix}fresh2:`
    // a short horizon: the pause lasts 100 ms + one interval
    const limiter = createRedisLimiter({ redis: t.redis, prefix, horizonMs: 100 })
    const first = await limiter.admit(1, 100)
    // the limiter's own schedule: back when the pause's end (its promised slot) has passed
    await sleep(first.deferDelaysMs[0]! + 20)
    const a = await limiter.admit(50, 100)
    expect(a.delaysMs.length).toBeGreaterThan(0)
    expect((await readCpsHistory(t.redis, 60, { prefix })).rateLimited).toBe(50 - a.delaysMs.length)
  })

  it('grants no slot before notBeforeMs (the shared line resuming after a degraded local one)', async () => {
    const prefix = `${t.prefix}floor:`
    await primeLimiter(t.redis, prefix)
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    const a = await limiter.admit(10, 10, { notBeforeMs: 600 })
    // slots from 600 ms, within the 1 s horizon: 600, 700, 800, 900
    expect(a.delaysMs).toHaveLength(4)
    expect(a.delaysMs[0]).toBeGreaterThanOrEqual(600)
    expect(a.delaysMs[0]).toBeLessThan(610)
  })

  it('records admitted and rate-limited counts per second for readCpsHistory', async () => {
    const prefix = `${t.prefix}hist:`
    await primeLimiter(t.redis, prefix)
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

  it('state missing (new or lost Redis): the first slot is a horizon + one interval away, so old unseen slots cannot crowd a window', async () => {
    const prefix = `${t.prefix}lost:`
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    // Slots another dialer was granted just before the loss: up to a horizon (1 s) ahead.
    const before = await limiter.admit(0, 100)
    expect(before.delaysMs).toEqual([])
    await t.redis.del(`${prefix}cps:pacer`)
    const lostAt = await redisNowMicros()
    const oldSlots = Array.from({ length: 100 }, (_, i) => lostAt + i * 10_000)
    const after = await limiter.admit(10, 100)
    // nothing within the horizon: all ten deferred to the conservative first slot and after it
    expect(after.delaysMs).toEqual([])
    expect(after.deferDelaysMs).toHaveLength(10)
    expect(after.deferDelaysMs[0]).toBeGreaterThanOrEqual(1000)
    expect(after.deferDelaysMs[0]).toBeLessThanOrEqual(1011)
    // then it admits from that slot on, and with the old slots no window holds more than 100
    const next = lostAt + 1_010_000
    const admitted: number[] = []
    while ((await redisNowMicros()) < next) {
      const a = await limiter.admit(100, 100)
      admitted.push(...a.slotsMicros!)
    }
    const a = await limiter.admit(100, 100)
    admitted.push(...a.slotsMicros!)
    expect(Math.min(...admitted)).toBeGreaterThanOrEqual(lostAt + 1_000_000)
    expect(worstWindow([...oldSlots, ...admitted])).toBeLessThanOrEqual(100)
  })

  it('defers the refused tasks to the next free slots, spread at the limit and promised once, capped at the deferral horizon', async () => {
    const prefix = `${t.prefix}defer:`
    await primeLimiter(t.redis, prefix)
    const limiter = createRedisLimiter({ redis: t.redis, prefix, deferHorizonMs: 5000 })
    const a = await limiter.admit(6, 2)
    // 2 CPS, horizon 1 s: slots at 0 and 500 ms; the next free slot is 1000 ms
    expect(a.delaysMs).toEqual([0, 500])
    expect(a.deferDelaysMs).toEqual([1000, 1500, 2000, 2500])
    // a second batch is not promised the same slots: its deferrals queue behind the first one's
    // (a promise is not a reservation: the free slot at ~1000 ms may still go to whoever asks
    // first, here b itself once the clock has moved on)
    const b = await limiter.admit(10, 2)
    expect(b.delaysMs.length).toBeLessThanOrEqual(1)
    expect(b.deferDelaysMs).toHaveLength(10 - b.delaysMs.length)
    expect(b.deferDelaysMs[0]).toBeGreaterThan(2900)
    expect(b.deferDelaysMs[0]).toBeLessThanOrEqual(3000)
    // beyond the deferral horizon every task comes back at the horizon and asks again
    expect(b.deferDelaysMs.at(-1)).toBe(5000)
    expect(b.deferDelaysMs.filter((d) => d === 5000).length).toBeGreaterThan(1)
  })

  it('rejects a limit below 1 with a message naming the limit', async () => {
    const limiter = createRedisLimiter({ redis: t.redis, prefix: `${t.prefix}bad:` })
    await expect(limiter.admit(1, 0)).rejects.toThrow(/limit must be an integer >= 1/)
  })
})

describe('the deferral line (claim, promise)', () => {
  it('a task asking the first time does not overtake slots promised to deferred ones; a claimant takes them', async () => {
    const prefix = `${t.prefix}line:`
    await primeLimiter(t.redis, prefix)
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    // 5 slots in the 1 s horizon at limit 5; the other 5 are promised the next second's slots
    const first = await limiter.admit(10, 5, { claim: false })
    expect(first.delaysMs).toHaveLength(5)
    expect(first.deferDelaysMs).toHaveLength(5)
    // a new task, even once the next slot is inside the horizon, is promised after the line:
    // wait on Redis's clock until the second slot is past (the next free one is then < 1 s ahead)
    await vi.waitUntil(async () => (await redisNowMicros()) > first.slotsMicros![1]!, { interval: 10 })
    const newcomer = await limiter.admit(1, 5, { claim: false })
    expect(newcomer.delaysMs).toEqual([])
    expect(newcomer.deferDelaysMs[0]!).toBeGreaterThan(first.deferDelaysMs.at(-1)! - 250)
    // a task back for its promise takes the next free slot
    const claimant = await limiter.admit(1, 5, { claim: true })
    expect(claimant.delaysMs).toHaveLength(1)
    expect(claimant.slotsMicros![0]! - first.slotsMicros!.at(-1)!).toBe(200_000)
  })

  it('a dead line (promises nobody claims: a paused campaign, a purged queue) holds new tasks back about a second, not until the promises expire', async () => {
    const prefix = `${t.prefix}deadline:`
    await primeLimiter(t.redis, prefix)
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    // 10 admitted, 290 promised up to 30 s ahead; none of them will come back
    const first = await limiter.admit(300, 10, { claim: false })
    expect(first.delaysMs).toHaveLength(10)
    expect(first.deferDelaysMs.at(-1)!).toBeGreaterThan(20_000)
    // while the admitted slots run, the line moves: a new task waits behind the promises
    expect((await limiter.admit(1, 10, { claim: false })).delaysMs).toEqual([])
    // a horizon after the next free slot, nobody has claimed it: the line is dead, new tasks go
    // (the next free slot is one interval, 100 ms, after the last admitted one; 200 ms to spare)
    const nextFree = first.slotsMicros!.at(-1)! + 100_000
    await sleep(Math.max(0, (nextFree - (await redisNowMicros())) / 1000 + 1000 + 200))
    const newcomer = await limiter.admit(1, 10, { claim: false })
    expect(newcomer.delaysMs).toHaveLength(1)
  })

  it('refusals the caller will not defer (promise: false) promise nothing, so nobody waits behind them', async () => {
    const prefix = `${t.prefix}nopromise:`
    await primeLimiter(t.redis, prefix)
    const limiter = createRedisLimiter({ redis: t.redis, prefix })
    const refused = await limiter.admit(10, 5, { claim: false, promise: false })
    expect(await t.redis.hget(`${prefix}cps:pacer`, 'dtat')).toBeNull()
    // once the second slot is past on Redis's clock, the next free slot is inside the horizon again
    await vi.waitUntil(async () => (await redisNowMicros()) > refused.slotsMicros![1]!, { interval: 10 })
    // a new task gets it
    expect((await limiter.admit(1, 5, { claim: false })).delaysMs).toHaveLength(1)
  })
})
