import { createSocket } from 'node:dgram'
import { describe, expect, it } from 'vitest'
import { formatTraceHeader, newSpanId, newTraceRoot, parseTraceHeader } from '../../src/tracing/context.js'
import { createTracer, NO_TRACER, type Span } from '../../src/tracing/tracer.js'
import { createXRaySpanSink, segmentDocument } from '../../src/tracing/xray-sink.js'

const HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'

describe('X-Ray trace header', () => {
  it('parses and formats the documented header exactly', () => {
    const ctx = parseTraceHeader(HEADER)
    expect(ctx).toEqual({
      root: '1-5759e988-bd862e3fe1be46a994272793',
      parent: '53995c3f42cd8ad8',
      sampled: true,
    })
    expect(formatTraceHeader(ctx!)).toBe(HEADER)
  })

  it('keeps an unsampled decision, ignores unknown keys, refuses a malformed root', () => {
    expect(parseTraceHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a:1')).toEqual({
      root: '1-5759e988-bd862e3fe1be46a994272793',
      sampled: false,
    })
    expect(parseTraceHeader('Root=nope;Sampled=1')).toBeUndefined()
    expect(parseTraceHeader(undefined)).toBeUndefined()
    expect(parseTraceHeader('')).toBeUndefined()
  })

  it('new ids have X-Ray shapes; the root starts with the epoch seconds', () => {
    expect(newTraceRoot(0x5759e988 * 1000)).toMatch(/^1-5759e988-[0-9a-f]{24}$/)
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/)
  })
})

function memorySink(): { spans: Span[]; export(spans: readonly Span[]): Promise<void> } {
  const spans: Span[] = []
  return { spans, export: async (s) => void spans.push(...s) }
}

describe('tracer', () => {
  it('a span joins the incoming trace, hands its own id on as parent, and is exported on flush', async () => {
    const sink = memorySink()
    let t = 1000
    const tracer = createTracer({ sink, now: () => t })
    const parent = parseTraceHeader(HEADER)
    let handedOn: string | undefined
    const out = await tracer.span('enriched', parent, { campaignId: 'c1' }, async (ctx, annotate) => {
      handedOn = formatTraceHeader(ctx)
      t = 1250
      annotate({ status: 'kept' })
      return 42
    })
    expect(out).toBe(42)
    expect(sink.spans).toHaveLength(0)
    await tracer.flush()
    const [span] = sink.spans
    expect(span).toMatchObject({
      name: 'enriched',
      traceId: '1-5759e988-bd862e3fe1be46a994272793',
      parentId: '53995c3f42cd8ad8',
      startMs: 1000,
      endMs: 1250,
      attributes: { campaignId: 'c1', status: 'kept' },
    })
    expect(handedOn).toBe(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${span!.spanId};Sampled=1`)
  })

  it('records the span when the work throws, and rethrows unchanged', async () => {
    const sink = memorySink()
    const tracer = createTracer({ sink })
    const boom = new Error('worker down')
    await expect(tracer.span('dial-request', undefined, {}, async () => Promise.reject(boom))).rejects.toBe(
      boom,
    )
    await tracer.flush()
    expect(sink.spans.map((s) => s.name)).toEqual(['dial-request'])
  })

  it('never records a phone number, whatever attribute carries it', async () => {
    const sink = memorySink()
    const tracer = createTracer({ sink })
    tracer.record('received', undefined, 0, 1, {
      contactId: '+972501234567',
      reason: 'bad number +12125550100',
    })
    await tracer.flush()
    const text = JSON.stringify(sink.spans)
    expect(text).not.toContain('972501234567')
    expect(text).not.toContain('12125550100')
  })

  it('an unsampled trace records nothing; an export failure is reported, not thrown', async () => {
    const sink = memorySink()
    const tracer = createTracer({ sink })
    tracer.record('queued', parseTraceHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0'), 0, 1)
    await tracer.flush()
    expect(sink.spans).toEqual([])

    const errors: unknown[] = []
    const failing = createTracer({
      sink: { export: async () => Promise.reject(new Error('daemon gone')) },
      onExportError: (e) => errors.push(e),
    })
    failing.record('queued', undefined, 0, 1)
    await expect(failing.flush()).resolves.toBeUndefined()
    expect(errors).toHaveLength(1)
  })

  it('NO_TRACER runs the work, records nothing and hands on an unsampled context', async () => {
    await expect(NO_TRACER.span('admitted', undefined, {}, async () => 'ok')).resolves.toBe('ok')
    expect(NO_TRACER.enabled).toBe(false)
    expect(NO_TRACER.open('claimed', undefined).ctx.sampled).toBe(false)
    // the same objects every time: nothing allocated per call on the hot path
    expect(NO_TRACER.open('claimed', undefined)).toBe(NO_TRACER.open('ended', undefined))
  })

  it('an open span hands its context on at once and records when ended, once', async () => {
    const sink = memorySink()
    let t = 10
    const tracer = createTracer({ sink, now: () => t })
    const span = tracer.open('deferred', parseTraceHeader(HEADER), { deferredMs: 1000 })
    expect(formatTraceHeader(span.ctx)).toMatch(
      /^Root=1-5759e988-bd862e3fe1be46a994272793;Parent=[0-9a-f]{16};Sampled=1$/,
    )
    t = 30
    span.end({ status: 'deferred' })
    span.end({ status: 'twice' })
    await tracer.close()
    expect(sink.spans).toEqual([
      {
        name: 'deferred',
        traceId: '1-5759e988-bd862e3fe1be46a994272793',
        spanId: span.ctx.parent,
        parentId: '53995c3f42cd8ad8',
        startMs: 10,
        endMs: 30,
        attributes: { deferredMs: 1000, status: 'deferred' },
      },
    ])
  })
})

describe('X-Ray daemon sink', () => {
  it('sends one segment document per span to the daemon address, header line first', async () => {
    const daemon = createSocket('udp4')
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve))
    const { port } = daemon.address()
    const received: string[] = []
    const got = new Promise<void>((resolve) =>
      daemon.on('message', (msg) => {
        received.push(msg.toString())
        resolve()
      }),
    )
    const span: Span = {
      name: 'claimed',
      traceId: '1-5759e988-bd862e3fe1be46a994272793',
      spanId: '0123456789abcdef',
      parentId: '53995c3f42cd8ad8',
      startMs: 1_700_000_000_000,
      endMs: 1_700_000_000_250,
      attributes: { callId: 'call-x', attempt: 1 },
    }
    await createXRaySpanSink({ address: `127.0.0.1:${port}`, service: 'worker' }).export([span])
    await got
    daemon.close()
    expect(received).toEqual([
      '{"format":"json","version":1}\n' +
        JSON.stringify({
          name: 'worker',
          id: '0123456789abcdef',
          trace_id: '1-5759e988-bd862e3fe1be46a994272793',
          parent_id: '53995c3f42cd8ad8',
          start_time: 1_700_000_000,
          end_time: 1_700_000_000.25,
          annotations: { stage: 'claimed', callId: 'call-x', attempt: 1 },
        }),
    ])
    expect(segmentDocument({ ...span, parentId: undefined } as Span, 's')).not.toHaveProperty('parent_id')
  })

  it('calls out of a process are subsegments naming what they reach (the trace map nodes)', () => {
    const base = {
      traceId: '1-5759e988-bd862e3fe1be46a994272793',
      spanId: '0123456789abcdef',
      parentId: '53995c3f42cd8ad8',
      startMs: 1000,
      endMs: 1500,
    }
    expect(segmentDocument({ ...base, name: 'postgres', attributes: { query: 'lookup' } }, 'enrich')).toEqual(
      {
        name: 'PostgreSQL',
        id: '0123456789abcdef',
        trace_id: base.traceId,
        parent_id: base.parentId,
        start_time: 1,
        end_time: 1.5,
        type: 'subsegment',
        namespace: 'remote',
        annotations: { stage: 'postgres', query: 'lookup' },
      },
    )
    expect(
      segmentDocument({ ...base, name: 'dial-request', attributes: { httpStatus: 202 } }, 'dialer'),
    ).toMatchObject({
      name: 'worker',
      type: 'subsegment',
      namespace: 'remote',
      http: { request: { method: 'POST', url: '/dial' }, response: { status: 202 } },
    })
    expect(segmentDocument({ ...base, name: 'admitted', attributes: {} }, 'dialer')).toMatchObject({
      name: 'Redis',
      type: 'subsegment',
    })
    // the first span of a trace (no parent) is a segment whatever its stage
    expect(
      segmentDocument({ ...base, parentId: undefined, name: 'queued', attributes: {} }, 'enrich'),
    ).not.toHaveProperty('type')
  })
})
