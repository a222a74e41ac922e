import { describe, expect, it } from 'vitest'
import { createTrunkGate, slotWaitMs } from '../../src/pacing/slot-wait.js'

describe('slot-timed origination at the worker', () => {
  it('waits until notBefore, never longer than the cap, not at all without a slot', () => {
    const nowMs = () => 10_000
    expect(slotWaitMs(undefined, { nowMs })).toBe(0)
    expect(slotWaitMs(9_000, { nowMs })).toBe(0)
    expect(slotWaitMs(10_250, { nowMs })).toBe(250)
    expect(slotWaitMs(60_000, { nowMs })).toBe(2000)
  })

  it('the trunk gate lets at most `limit` calls leave in any 1000 ms, whatever their slots say', async () => {
    const gate = createTrunkGate()
    const start = performance.timeOrigin + performance.now()
    // six calls all claiming the same instant at limit 5: the sixth waits for the first to age out
    const left = await Promise.all(Array.from({ length: 6 }, () => gate.pass(start, 5)))
    const sorted = [...left].sort((a, b) => a - b)
    expect(sorted[4]! - sorted[0]!).toBeLessThan(1000)
    expect(sorted[5]! - sorted[0]!).toBeGreaterThanOrEqual(1000)
    // without a limit (an older dialer) the slot alone applies
    const free = await Promise.all([gate.pass(undefined, undefined), gate.pass(undefined, undefined)])
    expect(free).toHaveLength(2)
  })
})
