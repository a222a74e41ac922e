import type { Logger } from '@aws-lambda-powertools/logger'
import { describe, expect, it, vi } from 'vitest'
import { runCall, type RunCallDeps } from '../../src/calls/run-call.js'
import { DialCommand } from '../../src/contracts/messages.js'
import type { Db } from '../../src/db/pool.js'
import type { ActiveCall, OriginateResult, TelephonyDriver } from '../../src/telephony/driver.js'
import { seedFlow } from '../helpers/fixtures.js'

/**
 * runCall's phases (ring → answer: machine policy or IVR → record → log) against a scripted driver
 * and a fake PostgreSQL: the edges the telephony integration tests do not reach (a throwing
 * driver, an answer without a call, an outcome PostgreSQL never takes).
 */

const cmd = (over: Record<string, unknown> = {}) =>
  DialCommand.parse({
    callId: 'call-1',
    phoneNumber: '+972501234567',
    campaignId: 'campaign-1',
    contactId: 'contact-1',
    audioFileUrl: 'https://example.com/a.mp3',
    ivrFlow: seedFlow(),
    ...over,
  })

/** An answered call whose callee hangs up at once (the IVR ends with no digit). */
function hungUpCall(): ActiveCall {
  return {
    callId: 'call-1',
    hungUp: true,
    hangupCause: 16,
    play: async () => ({ completed: false }),
    collectDigit: async () => ({ kind: 'hangup' }),
    hangup: async () => ({ hangupCause: 16 }),
  }
}

function fakeDriver(originate: TelephonyDriver['originate']): TelephonyDriver {
  return { name: 'fake', originate, healthy: () => true, close: async () => {} }
}

/**
 * A PostgreSQL that records each finish_calls statement's one finish (its JSON element, by
 * finish_call's argument names); the first `failures` tries throw.
 */
function fakeDb(failures = 0) {
  const params: Array<Record<string, unknown>> = []
  const db = {
    query: async (_sql: string, values: unknown[]) => {
      const finishes = JSON.parse(values[0] as string) as Array<Record<string, unknown>>
      params.push(...finishes)
      if (params.length <= failures) throw new Error('connection terminated')
      return { rows: finishes.map((_, i) => ({ ord: String(i + 1), recorded: true, contact_status: null })) }
    },
  }
  return { db: db as unknown as Db, params }
}

function deps(driver: TelephonyDriver, db: Db) {
  const logger = { info: vi.fn(), error: vi.fn(), warn: vi.fn(), debug: vi.fn() }
  return { deps: { db, driver, logger: logger as unknown as Logger } satisfies RunCallDeps, logger }
}

const answered: OriginateResult = { outcome: 'answered' }

describe('runCall', () => {
  it('a driver that throws before an answer: the call is failed, the error names the driver, the row is written', async () => {
    const { db, params } = fakeDb()
    const { deps: d } = deps(
      fakeDriver(async () => {
        throw new Error('boom')
      }),
      db,
    )
    const summary = await runCall(d, cmd(), 1)
    expect(summary).toMatchObject({ status: 'failed', error: 'driver fake: boom', recorded: true })
    expect(params).toHaveLength(1)
    expect(params[0]!.status).toBe('failed')
    expect(params[0]!.answered_at).toBeNull()
  })

  it('a driver that throws after the answer: the call stays answered, with its answer time', async () => {
    const { db, params } = fakeDb()
    // the machine policy's hangup is the driver call runCall does not guard itself (the IVR runner does)
    const call = { ...hungUpCall(), hangup: async () => Promise.reject(new Error('channel gone')) }
    const machine: OriginateResult = {
      outcome: 'answered',
      amd: { status: 'MACHINE', cause: 'LONGGREETING' },
    }
    const { deps: d } = deps(
      fakeDriver(async () => ({ result: machine, call })),
      db,
    )
    const summary = await runCall(d, cmd({ amd: { mode: 'hangup' } }), 1)
    expect(summary.status).toBe('answered')
    expect(summary.error).toBe('driver fake: channel gone')
    expect(Date.parse(params[0]!.answered_at as string)).not.toBeNaN()
  })

  it('an answer without a call is the driver’s fault: failed, saying so', async () => {
    const { db } = fakeDb()
    const { deps: d } = deps(
      fakeDriver(async () => ({ result: answered })),
      db,
    )
    const summary = await runCall(d, cmd(), 1)
    expect(summary).toMatchObject({
      status: 'failed',
      error: 'driver fake reported an answer without a call',
    })
  })

  it('a machine with AMD on hangs up and records amd-hangup; with AMD off the IVR runs instead', async () => {
    const machine: OriginateResult = {
      outcome: 'answered',
      amd: { status: 'MACHINE', cause: 'LONGGREETING' },
    }
    const on = fakeDb()
    const withAmd = await runCall(
      deps(
        fakeDriver(async () => ({ result: machine, call: hungUpCall() })),
        on.db,
      ).deps,
      cmd({ amd: { mode: 'hangup' } }),
      1,
    )
    expect(withAmd).toMatchObject({ status: 'machine', endedBy: 'amd-hangup', hangupCause: 16 })
    expect(on.params[0]!.ended_by).toBe('amd-hangup')
    const off = fakeDb()
    const withoutAmd = await runCall(
      deps(
        fakeDriver(async () => ({ result: machine, call: hungUpCall() })),
        off.db,
      ).deps,
      cmd(),
      1,
    )
    expect(withoutAmd.status).toBe('answered')
    expect(withoutAmd.ivr).toBeDefined()
  })

  it('retries the outcome after each delay, then gives up: not recorded, logged as such', async () => {
    const { db, params } = fakeDb(Infinity)
    const { deps: d, logger } = deps(
      fakeDriver(async () => ({ result: { outcome: 'no-answer' } })),
      db,
    )
    const summary = await runCall(d, cmd(), 1, { recordRetryDelaysMs: [0, 0] })
    expect(summary).toMatchObject({ status: 'no-answer', recorded: false })
    expect(params).toHaveLength(3)
    expect(logger.error).toHaveBeenCalledWith(
      'call outcome not recorded; the row stays dialing until this worker restarts',
      expect.objectContaining({ callId: 'call-1', status: 'no-answer' }),
    )
    const recovered = fakeDb(1)
    const second = await runCall(
      deps(
        fakeDriver(async () => ({ result: { outcome: 'busy' } })),
        recovered.db,
      ).deps,
      cmd(),
      1,
      { recordRetryDelaysMs: [0] },
    )
    expect(second.recorded).toBe(true)
    expect(recovered.params).toHaveLength(2)
  })

  it('logs one line per call with the number masked', async () => {
    const { db } = fakeDb()
    const { deps: d, logger } = deps(
      fakeDriver(async () => ({ result: { outcome: 'busy', hangupCause: 17 } })),
      db,
    )
    await runCall(d, cmd(), 1)
    expect(logger.info).toHaveBeenCalledTimes(1)
    const [, fields] = logger.info.mock.calls[0]!
    expect(JSON.stringify(fields)).not.toContain('501234567')
    expect(fields).toMatchObject({ callId: 'call-1', status: 'busy' })
  })
})
