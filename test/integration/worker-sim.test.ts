import { describe, expect, it } from 'vitest'
import { IvrFlow } from '../../src/contracts/ivr.js'
import { runIvr } from '../../src/ivr/runner.js'
import { SimDriver, type SimOptionsInput } from '../../worker/drivers/sim.js'
import { flow } from './worker-fixtures.js'

const ivr = IvrFlow.parse(flow)
const noActions = { run: async () => {} }

/** One simulated call end to end: what the callee did. */
async function simulate(driver: SimDriver, callId: string) {
  const { result, call } = await driver.originate({
    callId,
    phoneNumber: '+972501234567',
    ringTimeoutSeconds: 30,
    variables: {},
  })
  if (!call) return `${result.outcome}/${result.hangupCause}`
  const run = await runIvr(ivr, call, noActions)
  return `${result.outcome}/${run.digit ?? '-'}/${run.endedBy}`
}

const options: SimOptionsInput = {
  seed: 42,
  speed: 0,
  answerRate: 0.6,
  busyRate: 0.1,
  congestionRate: 0.05,
  dtmf: { '1': 0.3, '9': 0.05, '5': 0.05, hangup: 0.05, none: 0.55 },
  hangupDuringPlaybackRate: 0.1,
}
const ids = Array.from({ length: 400 }, (_, i) => `call-c-${i}-0`)

describe('SimDriver', () => {
  it('is reproducible per (seed, callId), whatever the concurrency', async () => {
    const sequential: string[] = []
    const one = new SimDriver(options)
    for (const id of ids) sequential.push(await simulate(one, id))
    const concurrent = await Promise.all([...ids].reverse().map((id) => simulate(new SimDriver(options), id)))
    expect(concurrent.reverse()).toEqual(sequential)
    const otherSeed = await Promise.all(
      ids.map((id) => simulate(new SimDriver({ ...options, seed: 43 }), id)),
    )
    expect(otherSeed).not.toEqual(sequential)
    expect(one.activeCalls).toBe(0)
  })

  it('follows the configured rates', async () => {
    const driver = new SimDriver({ ...options, hangupDuringPlaybackRate: 0 })
    const many = Array.from({ length: 4000 }, (_, i) => `call-rate-${i}`)
    const outcomes = await Promise.all(many.map((id) => simulate(driver, id)))
    const share = (prefix: string) => outcomes.filter((o) => o.startsWith(prefix)).length / outcomes.length
    expect(share('answered/')).toBeGreaterThan(0.56)
    expect(share('answered/')).toBeLessThan(0.64)
    expect(share('busy/17')).toBeGreaterThan(0.08)
    expect(share('busy/17')).toBeLessThan(0.12)
    expect(share('congestion/34')).toBeGreaterThan(0.03)
    expect(share('no-answer/19')).toBeGreaterThan(0.22)
    // 30% of answered calls press 1 (weights 0.3 of 1.0)
    const pressed1 =
      outcomes.filter((o) => o.startsWith('answered/1/')).length /
      outcomes.filter((o) => o.startsWith('answered/')).length
    expect(pressed1).toBeGreaterThan(0.26)
    expect(pressed1).toBeLessThan(0.34)
    expect(outcomes.some((o) => o === 'answered/-/invalid-input')).toBe(true)
    expect(outcomes.some((o) => o === 'answered/-/callee-hangup')).toBe(true)
    expect(outcomes.some((o) => o === 'answered/-/timeout')).toBe(true)
  })

  it('a ring longer than the ring timeout is a no-answer', async () => {
    const driver = new SimDriver({ speed: 0, answerRate: 1, busyRate: 0, ringMs: [40_000, 50_000] })
    expect(await simulate(driver, 'call-x')).toBe('no-answer/19')
  })

  it('a digit slower than the prompt timeout is a timeout', async () => {
    const driver = new SimDriver({
      speed: 0,
      answerRate: 1,
      busyRate: 0,
      dtmf: { '1': 1 },
      digitDelayMs: [11_000, 12_000],
    })
    expect(await simulate(driver, 'call-y')).toBe('answered/-/timeout')
  })

  it('rejects bad options naming the field', () => {
    expect(() => new SimDriver({ answerRate: 0.8, busyRate: 0.3 })).toThrow(
      'sim driver options: answerRate: answerRate + busyRate + congestionRate must not exceed 1',
    )
    expect(() => new SimDriver({ dtmf: { x: 1 } })).toThrow(/dtmf\.x: keys are DTMF digits/)
    expect(() => new SimDriver({ ringMs: [5, 1] })).toThrow(/ringMs: range must be/)
  })

  it('unhealthy: originate fails without ringing', async () => {
    const driver = new SimDriver({ speed: 0 })
    driver.setHealthy(false)
    expect(driver.healthy()).toBe(false)
    const { result, call } = await driver.originate({
      callId: 'c',
      phoneNumber: '+972501234567',
      ringTimeoutSeconds: 30,
      variables: {},
    })
    expect(result).toEqual({ outcome: 'failed', error: 'sim driver is marked unhealthy' })
    expect(call).toBeUndefined()
  })
})
