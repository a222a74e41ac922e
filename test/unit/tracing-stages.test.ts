import { describe, expect, it } from 'vitest'
import { CallTrace } from '../../src/calls/trace.js'
import type { DialCommand, EnrichedDialTask } from '../../src/contracts/index.js'
import { createDialer } from '../../src/dialer/create-dialer.js'
import type { RequeueEntry } from '../../src/dialer/ports.js'
import { traceEnrichBatch } from '../../src/enrich/trace.js'
import { createLogger } from '../../src/observability/logger.js'
import { formatTraceHeader, parseTraceHeader } from '../../src/tracing/context.js'
import { createTracer, type Span } from '../../src/tracing/tracer.js'
import { segmentDocument } from '../../src/tracing/xray-sink.js'
import type { ActiveCall, TelephonyDriver } from '../../src/telephony/driver.js'

/**
 * Issue #19: each stage is wrapped in its span, in the task's trace, and each hand-off carries
 * the header naming the span it came from (exact text asserted), with fakes in place of the stores.
 */
const ROOT = '1-5759e988-bd862e3fe1be46a994272793'
const SENT_HEADER = `Root=${ROOT};Sampled=1`
const PHONE = '+12125550147'

function recordingTracer() {
  const spans: Span[] = []
  const tracer = createTracer({ sink: { export: async (s) => void spans.push(...s) } })
  const byName = (name: string) => spans.filter((s) => s.name === name)
  const one = (name: string) => {
    const found = byName(name)
    expect(found, name).toHaveLength(1)
    return found[0]!
  }
  return { tracer, spans, byName, one }
}

const campaign = {
  id: 'c1',
  name: 'Drive',
  type: 'voice' as const,
  status: 'active' as const,
  config: {
    audioFileUrl: 'https://example.test/a.wav',
    ivrFlow: {
      startNodeId: 'n1',
      nodes: [{ id: 'n1', type: 'play_audio' as const, audioUrl: 'https://example.test/a.wav' }],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 10,
    maxAttemptsPerContact: 3,
  },
  timezone: 'UTC',
}

function enriched(contactId: string, traceHeader?: string): EnrichedDialTask {
  return {
    campaignId: 'c1',
    contactId,
    phoneNumber: PHONE,
    attempts: 0,
    campaign,
    enrichedAt: '2026-11-30T10:00:00.000Z',
    messageId: `m-${contactId}`,
    ...(traceHeader ? { traceHeader } : {}),
  }
}

describe('enrich: queued, received, enriched and its PostgreSQL statements', () => {
  it('the record header starts the chain; the kept task leaves with the enriched span as parent', async () => {
    const { tracer, spans, one } = recordingTracer()
    const record = {
      messageId: 'm-1',
      body: '{}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1000',
        ApproximateFirstReceiveTimestamp: '1400',
        AWSTraceHeader: SENT_HEADER,
      },
    }
    const kept = enriched('k1')
    traceEnrichBatch(
      tracer,
      [record],
      [{ index: 0, task: { campaignId: 'c1', contactId: 'k1', attempts: 0 }, kept }],
      { startMs: 2000, lookup: [2001, 2005], writes: [2006, 2008], endMs: 2010 },
    )
    await tracer.flush()
    const queued = one('queued')
    const received = one('received')
    const enrichedSpan = one('enriched')
    expect(queued).toMatchObject({ traceId: ROOT, startMs: 1000, endMs: 1400 })
    expect(queued.parentId).toBeUndefined()
    expect(received).toMatchObject({ parentId: queued.spanId, startMs: 1400, endMs: 2000 })
    expect(received.attributes).toMatchObject({ receiveCount: 1, callId: 'call.c1.k1.0' })
    expect(enrichedSpan).toMatchObject({ parentId: received.spanId, startMs: 2000, endMs: 2010 })
    expect(spans.filter((s) => s.name === 'postgres').map((s) => [s.parentId, s.attributes.query])).toEqual([
      [enrichedSpan.spanId, 'lookup'],
      [enrichedSpan.spanId, 'record'],
    ])
    expect(kept.traceHeader).toBe(`Root=${ROOT};Parent=${enrichedSpan.spanId};Sampled=1`)
  })

  it('a dropped task is recorded with its reason (no phone in it) and nothing is handed on', async () => {
    const { tracer, one } = recordingTracer()
    traceEnrichBatch(
      tracer,
      [{ messageId: 'm', body: '{}', attributes: { AWSTraceHeader: SENT_HEADER } }],
      [{ index: 0, task: { campaignId: 'c1', contactId: PHONE, attempts: 0 }, reason: 'blacklisted' }],
      { startMs: 5, endMs: 6 },
    )
    await tracer.flush()
    expect(one('enriched').attributes).toMatchObject({ status: 'dropped', reason: 'blacklisted' })
    // what sinks print or send on (the attributes, the X-Ray document) holds no number; only the
    // local store's lookup key (Span.callId) keeps the raw call id
    expect(JSON.stringify(one('enriched').attributes)).not.toContain('2125550147')
    expect(JSON.stringify(segmentDocument(one('enriched'), 'enrich'))).not.toContain('2125550147')
  })
})

describe('dialer: dialer, admitted, deferred, dial-request, postgres', () => {
  it('POST /dial carries x-amzn-trace-id naming the dial-request span; a deferral re-sends under its span', async () => {
    const { tracer, one, byName } = recordingTracer()
    const parent = `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1`
    const dials: { command: DialCommand; traceHeader?: string }[] = []
    const requeued: RequeueEntry[] = []
    const response = await createDialer({
      limiter: {
        admit: async () => ({ delaysMs: [40], deferDelaysMs: [3000], mode: 'redis', limit: 7 }),
      },
      limitStore: { getLimit: async () => ({ limit: 7, source: 'redis' as const }) },
      // the refused task goes straight back to the queue (no hold), due at its slot, so its
      // deferral span shows
      holdMs: 0,
      returnEarlyMs: 0,
      worker: {
        dial: async (command, options) => {
          dials.push({ command, ...(options?.traceHeader ? { traceHeader: options.traceHeader } : {}) })
          return { kind: 'accepted', status: 202, callId: command.callId }
        },
      },
      outcomes: { record: async () => undefined },
      marker: { marked: async (keys) => keys.map(() => false), mark: async () => undefined },
      requeue: {
        requeue: async (entries) => {
          requeued.push(...entries)
          return { failed: [] }
        },
      },
      logger: createLogger('test', { level: 'SILENT' }),
      metrics: { addMetric: () => undefined },
      sleep: async () => undefined,
      tracer,
    })([enriched('a', parent), enriched('b', parent)])
    expect(response.batchItemFailures).toEqual([])
    await tracer.flush()

    const [dialerA, dialerB] = byName('dialer')
    expect(dialerA).toMatchObject({ traceId: ROOT, parentId: '53995c3f42cd8ad8' })
    expect(dialerA!.attributes).toMatchObject({ callId: 'call.c1.a.0', status: 'dialed' })
    expect(dialerB!.attributes).toMatchObject({ callId: 'call.c1.b.0', status: 'deferred' })
    expect(one('admitted')).toMatchObject({ parentId: dialerA!.spanId })
    expect(one('admitted').attributes).toMatchObject({ admitted: 1, slotWaitMs: 40, limit: 7, mode: 'redis' })

    const request = one('dial-request')
    expect(request).toMatchObject({ parentId: dialerA!.spanId })
    expect(request.attributes).toMatchObject({ status: 'accepted', httpStatus: 202 })
    expect(dials).toHaveLength(1)
    expect(dials[0]!.traceHeader).toBe(`Root=${ROOT};Parent=${request.spanId};Sampled=1`)

    const deferred = one('deferred')
    expect(deferred).toMatchObject({ parentId: dialerB!.spanId })
    expect(deferred.attributes).toMatchObject({ deferredMs: 3000, status: 'deferred' })
    expect(requeued.map((e) => e.traceHeader)).toEqual([`Root=${ROOT};Parent=${deferred.spanId};Sampled=1`])

    expect(byName('postgres').map((s) => s.attributes.query)).toEqual(['outcomes', 'outcomes'])
  })

  it('without a tracer the POST carries no trace header', async () => {
    let seen: unknown = 'unset'
    await createDialer({
      limiter: { admit: async () => ({ delaysMs: [0], deferDelaysMs: [], mode: 'redis', limit: 7 }) },
      limitStore: { getLimit: async () => ({ limit: 7, source: 'redis' as const }) },
      worker: {
        dial: async (command, options) => {
          seen = options
          return { kind: 'accepted', status: 202, callId: command.callId }
        },
      },
      outcomes: { record: async () => undefined },
      marker: { marked: async (keys) => keys.map(() => false), mark: async () => undefined },
      logger: createLogger('test', { level: 'SILENT' }),
      metrics: { addMetric: () => undefined },
      sleep: async () => undefined,
    })([enriched('a', SENT_HEADER)])
    expect(seen).toBeUndefined()
  })
})

describe('worker: originated, answered, playback, digit, action, ended', () => {
  it('wraps the driver, the answered call and the actions under the claimed span', async () => {
    const { tracer, spans, one } = recordingTracer()
    const claimed = parseTraceHeader(`Root=${ROOT};Parent=aaaaaaaaaaaaaaaa;Sampled=1`)!
    const call: ActiveCall = {
      callId: 'call.c1.a.0',
      hungUp: false,
      play: async () => ({ completed: true }),
      collectDigit: async () => ({ kind: 'digit', digit: '1' }),
      hangup: async () => ({ hangupCause: 16 }),
    }
    const driver: TelephonyDriver = {
      name: 'fake',
      healthy: () => true,
      close: async () => undefined,
      originate: async () => ({ result: { outcome: 'answered' }, call }),
    }
    const trace = new CallTrace(tracer, claimed, { callId: 'call.c1.a.0' })
    const { call: answered } = await trace.driver(driver).originate({
      callId: 'call.c1.a.0',
      phoneNumber: PHONE,
      ringTimeoutSeconds: 30,
      variables: {},
    })
    await answered!.play('https://example.test/a.wav')
    await answered!.collectDigit(5)
    await trace
      .actions({ run: async () => undefined })
      .run({ type: 'trigger_donation', parameters: {} }, { digit: '1', nodeId: 'n2' })
    await answered!.hangup()
    trace.end({ callId: 'call.c1.a.0', status: 'answered', hangupCause: 16, durationMs: 900, recorded: true })
    await tracer.flush()

    expect(one('originated')).toMatchObject({ parentId: 'aaaaaaaaaaaaaaaa' })
    expect(one('originated').attributes).toMatchObject({ status: 'answered' })
    const answeredSpan = one('answered')
    expect(answeredSpan.parentId).toBe('aaaaaaaaaaaaaaaa')
    for (const name of ['playback', 'digit', 'action']) expect(one(name).parentId).toBe(answeredSpan.spanId)
    expect(one('digit').attributes).toMatchObject({ digit: '1' })
    expect(one('action').attributes).toMatchObject({ action: 'trigger_donation', status: 'ok' })
    expect(one('ended').attributes).toMatchObject({ status: 'answered', hangupCause: 16 })
    // answered ends where the hang-up begins: the two do not overlap
    expect(one('ended').startMs).toBeGreaterThanOrEqual(answeredSpan.endMs)
    // the number dialed is in no span
    expect(JSON.stringify(spans.map((x) => segmentDocument(x, 'worker')))).not.toContain('2125550147')
    expect(formatTraceHeader(claimed)).toBe(`Root=${ROOT};Parent=aaaaaaaaaaaaaaaa;Sampled=1`)
  })
})
