import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callIdFor } from '../../src/contracts/messages.js'
import { parseTraceHeader } from '../../src/tracing/context.js'
import { createPgSpanSink, readTimeline } from '../../src/tracing/pg-sink.js'
import { createTracer } from '../../src/tracing/tracer.js'
import { maskPhonesIn } from '../../src/observability/mask.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

let db: TestDb
beforeAll(async () => {
  db = await createTestDb('trace')
})
afterAll(async () => {
  await db.drop()
})

describe('local trace store', () => {
  it('one task: its spans in order with offsets and durations, found by the call id', async () => {
    const tracer = createTracer({ sink: createPgSpanSink(db.pool) })
    const t0 = Date.parse('2026-11-30T10:00:00.000Z')
    const queued = tracer.record('queued', undefined, t0, t0 + 400)
    const received = tracer.record('received', queued, t0 + 400, t0 + 410, { receiveCount: 1 })
    const enriched = tracer.record('enriched', received, t0 + 410, t0 + 430, { campaignId: 'c1' })
    tracer.record('admitted', enriched, t0 + 430, t0 + 700, { slotWaitMs: 270, callId: 'call-1' })
    tracer.record('ended', enriched, t0 + 900, t0 + 5000, { callId: 'call-1', status: 'answered' })
    // another task's trace must not leak into this timeline
    tracer.record('queued', undefined, t0, t0 + 1, { callId: 'call-2' })
    await tracer.flush()

    const timeline = await readTimeline(db.pool, 'call-1')
    expect(timeline.traceIds).toHaveLength(1)
    expect(timeline.rows.map((r) => [r.name, r.offsetMs, r.durationMs])).toEqual([
      ['queued', 0, 400],
      ['received', 400, 10],
      ['enriched', 410, 20],
      ['admitted', 430, 270],
      ['ended', 900, 4100],
    ])
    expect(timeline.rows[1]!.attributes).toEqual({ receiveCount: 1 })
  })

  it('an unknown call id has an empty timeline', async () => {
    expect(await readTimeline(db.pool, 'call-none')).toEqual({ callId: 'call-none', traceIds: [], rows: [] })
  })

  it('a redelivered span (same ids) is stored once', async () => {
    const sink = createPgSpanSink(db.pool)
    const ctx = parseTraceHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')!
    const span = {
      name: 'received' as const,
      traceId: ctx.root,
      spanId: 'aaaaaaaaaaaaaaaa',
      startMs: 0,
      endMs: 1,
      attributes: { callId: 'call-3' },
    }
    await sink.export([span])
    await sink.export([span])
    expect((await readTimeline(db.pool, 'call-3')).rows).toHaveLength(1)
  })

  // Issue #15 review F2: the store's key is the real call id, whatever masking makes of it in text.
  const ids: [string, string][] = [
    ['an ordinary call id', callIdFor({ campaignId: 'spring-2026', contactId: '17', attempts: 0 })],
    [
      'a call id over joined digits',
      callIdFor({ campaignId: 'gala-2026', contactId: '1000234', attempts: 1 }),
    ],
    [
      'a contact whose id is its number',
      callIdFor({ campaignId: 'gala', contactId: '+12125550101', attempts: 0 }),
    ],
  ]
  it.each(ids)('%s (%s) finds its timeline; nothing printed holds the number', async (_what, callId) => {
    const t0 = Date.parse('2026-11-30T10:00:00.000Z')
    const tracer = createTracer({ sink: createPgSpanSink(db.pool), now: () => t0 + 6 })
    const enriched = tracer.record('enriched', undefined, t0, t0 + 5, { contactId: callId.split('.')[2] })
    await tracer.span('dial-request', enriched, { callId }, async (_ctx, annotate) =>
      annotate({ status: 'accepted' }),
    )
    tracer.record('ended', enriched, t0 + 10, t0 + 20, { callId, status: 'answered' })
    await tracer.flush()

    const timeline = await readTimeline(db.pool, callId)
    expect(timeline.rows.map((r) => r.name)).toEqual(['enriched', 'dial-request', 'ended'])
    // what is printed of it (trace ids aside: hex, random)
    const printed = timeline.callId + JSON.stringify(timeline.rows.map((r) => [r.name, r.attributes]))
    expect(printed).not.toContain('2125550101')
    expect(printed).not.toMatch(/\d{7}/)
    expect(timeline.callId).toBe(maskPhonesIn(callId))
    // an id with no 7-digit run is displayed as it is
    if (!/\d{7}/.test(callId)) expect(timeline.callId).toBe(callId)
  })
})
