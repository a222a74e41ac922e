import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startLocalStack, type LocalStack } from '../../local/stack.js'
import { registerPushedContacts } from '../../src/control/pushed-contacts.js'
import { callIdFor } from '../../src/contracts/index.js'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { dropKeys } from '../helpers/redis.js'
import { DEMO_CAMPAIGN_ID } from '../../src/local-stack/demo.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { newTaskTraceHeader } from '../../src/tracing/stamp.js'
import { readTimeline } from '../../src/tracing/pg-sink.js'

/**
 * Issue #19 on the local stack (`dialctl dev --trace`): one pushed task yields one trace whose
 * spans cover every stage, queue to hang-up, in order, with durations the simulated callee
 * explains — and no span carries the phone number.
 */
describe('one trace per dial task (local stack)', () => {
  const schema = `e2e_trace_${randomBytes(4).toString('hex')}`
  const prefix = `test:e2e-trace:${randomBytes(4).toString('hex')}:`
  let stack: LocalStack

  beforeAll(async () => {
    stack = await startLocalStack({
      schema,
      redisPrefix: prefix,
      workerPort: 0,
      batchWindowSeconds: 0.2,
      dispatcher: false,
      announce: false,
      trace: true,
      // every call answered, the callee presses 1 (trigger_donation); fixed durations
      sim: {
        answerRate: 1,
        busyRate: 0,
        machineRate: 0,
        dtmf: { '1': 1 },
        ringMs: [300, 300],
        playbackMs: [400, 400],
        digitDelayMs: [200, 200],
        speed: 1,
        seed: 3,
      },
    })
  })

  afterAll(async () => {
    await stack?.stop()
    const admin = createPool({ max: 1 })
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
    await admin.end()
    await dropKeys(prefix)
  })

  it('queued → ended in one trace, in order, with plausible durations; no phone number recorded', async () => {
    const phone = testNumber(7)
    const task = buildDialTask({ campaignId: DEMO_CAMPAIGN_ID, contactId: 'trace-1', phoneNumber: phone })
    const registered = await registerPushedContacts(
      stack.pool,
      [task].map((task, i) => ({ id: String(i), task })),
    )
    expect(registered.refused).toEqual([])
    const header = newTaskTraceHeader()
    const sent = await stack.queue.sendBatch([{ id: 'a', body: JSON.stringify(task), traceHeader: header }])
    expect(sent.failed).toEqual([])
    const callId = callIdFor(task)

    await vi.waitFor(
      async () => {
        const t = await readTimeline(stack.pool, callId)
        if (!t.rows.some((r) => r.name === 'ended')) throw new Error('call not ended yet')
      },
      { timeout: 30_000, interval: 100 },
    )
    await stack.worker.idle()
    await stack.tracer.flush()
    const timeline = await readTimeline(stack.pool, callId)

    // one trace: the one the message was sent with
    expect(timeline.traceIds).toEqual([header.split(';')[0]!.slice('Root='.length)])
    const names = timeline.rows.map((r) => r.name)
    const stages = names.filter(
      (n) => n !== 'postgres' && n !== 'playback' && n !== 'digit' && n !== 'action',
    )
    // A fresh limiter starts conservatively, so the task may first be deferred: its re-sent copy
    // carries the header and goes round again in the same trace.
    const pass = 'queued received enriched dialer'
    expect(stages.join(' ')).toMatch(
      new RegExp(`^${pass}( deferred ${pass})* admitted dial-request claimed originated answered ended$`),
    )
    // inside the answered call: the prompt, the key, the action, in that order
    const inCall = names.filter((n) => n === 'playback' || n === 'digit' || n === 'action')
    expect(inCall).toEqual(['playback', 'digit', 'action'])
    // enrich's lookup and writes, the dialer's outcome rows: per pass through the pipe
    const passes = names.filter((n) => n === 'queued').length
    const queries = timeline.rows.filter((r) => r.name === 'postgres').map((r) => r.attributes.query)
    expect(queries.filter((q) => q === 'lookup')).toHaveLength(passes)
    expect(queries.filter((q) => q === 'outcomes')).toHaveLength(passes)
    expect(names.filter((n) => n === 'deferred')).toHaveLength(passes - 1)

    // the last pass is the one dialed
    const row = (name: string) => timeline.rows.findLast((r) => r.name === name)!
    expect(row('received').attributes).toMatchObject({ receiveCount: 1, callId })
    expect(row('admitted').attributes).toMatchObject({ admitted: 1, mode: 'redis' })
    expect(row('dial-request').attributes).toMatchObject({ status: 'accepted', httpStatus: 202 })
    expect(row('claimed').attributes).toMatchObject({ status: 'claimed' })
    expect(row('originated').attributes).toMatchObject({ status: 'answered' })
    expect(row('digit').attributes).toMatchObject({ digit: '1' })
    expect(row('action').attributes).toMatchObject({ action: 'trigger_donation', status: 'ok' })
    expect(row('ended').attributes).toMatchObject({ status: 'answered' })

    // plausible durations: the simulated ring, prompt and key delay (timers may run late, not early)
    const ms = (name: string) => row(name).durationMs
    expect(ms('originated')).toBeGreaterThanOrEqual(290)
    expect(ms('originated')).toBeLessThan(5000)
    expect(ms('playback')).toBeGreaterThanOrEqual(390)
    expect(ms('digit')).toBeGreaterThanOrEqual(190)
    expect(ms('answered')).toBeGreaterThanOrEqual(ms('playback') + ms('digit'))
    for (const r of timeline.rows) expect(r.durationMs).toBeGreaterThanOrEqual(0)
    // each stage starts no earlier than the one before it ends (the pipeline is sequential)
    expect(row('received').offsetMs).toBeGreaterThanOrEqual(row('queued').offsetMs + ms('queued'))
    expect(row('claimed').offsetMs).toBeGreaterThanOrEqual(row('dial-request').offsetMs)
    expect(row('answered').offsetMs).toBeGreaterThanOrEqual(row('originated').offsetMs + ms('originated'))

    // the trace scan: the number is in no span, in any form a mask would leave whole
    const { rows } = await stack.pool.query<{ doc: string }>(
      `SELECT row_to_json(s)::text AS doc FROM trace_spans s`,
    )
    const digits = phone.replace(/\D/g, '')
    for (const { doc } of rows) {
      expect(doc).not.toContain(phone)
      expect(doc).not.toContain(digits)
      expect(doc).not.toContain(digits.slice(-7))
    }
  }, 60_000)
})
