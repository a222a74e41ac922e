import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseTraceHeader } from '../../src/tracing/context.js'
import { createPgSpanSink, readTimeline } from '../../src/tracing/pg-sink.js'
import { createTracer } from '../../src/tracing/tracer.js'
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
})
