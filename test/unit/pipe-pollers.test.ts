import { describe, expect, it } from 'vitest'
import { Pollers, SCALE_UP_INTERVAL_MS } from '../../src/pipe/pollers.js'

/** Pollers whose loops wait until released; the clock is driven by the test. */
function harness(scaling: { min: number; max: number; scaleUpIntervalMs?: number }) {
  let now = 0
  const started: number[] = []
  let release!: () => void
  const stopped = new Promise<void>((r) => (release = r))
  const pollers = new Pollers(
    scaling,
    async (i) => {
      started.push(i)
      await stopped
    },
    () => now,
  )
  return { pollers, started, release, tick: (ms: number) => (now += ms) }
}

describe('local pipe pollers (scaled like Lambda’s SQS poller)', () => {
  it('starts min pollers; a full receive adds one, at most one per 200 ms (300 a minute), up to max', () => {
    expect(SCALE_UP_INTERVAL_MS).toBe(200)
    const h = harness({ min: 2, max: 4 })
    h.pollers.start()
    expect(h.pollers.size).toBe(2)
    h.pollers.grow()
    h.pollers.grow() // same instant: rate-limited
    expect(h.pollers.size).toBe(3)
    h.tick(199)
    h.pollers.grow()
    expect(h.pollers.size).toBe(3)
    h.tick(1)
    h.pollers.grow()
    expect(h.pollers.size).toBe(4)
    h.tick(1000)
    h.pollers.grow() // at max
    expect(h.pollers.size).toBe(4)
    expect(h.started).toEqual([0, 1, 2, 3])
  })

  it('an empty receive retires a poller while more than min run; drain waits for every loop', async () => {
    const h = harness({ min: 1, max: 3, scaleUpIntervalMs: 0 })
    h.pollers.start()
    h.pollers.grow()
    h.pollers.grow()
    expect(h.pollers.size).toBe(3)
    expect(h.pollers.retire()).toBe(true)
    expect(h.pollers.retire()).toBe(true)
    expect(h.pollers.retire()).toBe(false) // min kept
    expect(h.pollers.size).toBe(1)
    let drained = false
    const drain = h.pollers.drain().then(() => (drained = true))
    await Promise.resolve()
    expect(drained).toBe(false)
    h.release()
    await drain
    expect(h.pollers.size).toBe(0)
    h.pollers.start() // restartable after a stop
    expect(h.pollers.size).toBe(1)
  })

  it('max below min is min (a fixed pipe never scales)', () => {
    const h = harness({ min: 2, max: 2 })
    h.pollers.start()
    h.tick(10_000)
    h.pollers.grow()
    expect(h.pollers.size).toBe(2)
    expect(h.pollers.retire()).toBe(false)
  })
})
