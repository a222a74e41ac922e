import { describe, expect, it } from 'vitest'
import type { QueuePort } from '../../src/queue/port.js'
import { parseTraceHeader } from '../../src/tracing/context.js'
import { newTaskTraceHeader, sampleTask, stampingQueue } from '../../src/tracing/stamp.js'
import { readDispatcherEnv } from '../../src/dispatch/env.js'
import { traceSampleRate } from '../../stacks/settings.js'

/** A deterministic [0, 1) source: the given values in turn. */
function sequence(...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

describe('trace sampling (decided once, when a task is stamped)', () => {
  it('samples a task when the random draw is below the share', () => {
    expect(sampleTask(0.05, sequence(0.049))).toBe(true)
    expect(sampleTask(0.05, sequence(0.05))).toBe(false)
    expect(sampleTask(0, sequence(0))).toBe(false)
    expect(sampleTask(1, sequence(0.999999))).toBe(true)
    expect(sampleTask()).toBe(true)
  })

  it('stamps Sampled=0 headers that still carry a trace root', () => {
    const ctx = parseTraceHeader(newTaskTraceHeader({ sampleRate: 0.05, random: sequence(0.5), nowMs: 0 }))
    expect(ctx).toEqual({ root: expect.stringMatching(/^1-00000000-[0-9a-f]{24}$/), sampled: false })
  })

  it('samples the configured share of a stamped batch, and keeps a header the caller gave', async () => {
    const sent: Array<string | undefined> = []
    const queue = {
      name: 'q',
      send: async (_body: string, options: { traceHeader?: string } = {}) => {
        sent.push(options.traceHeader)
        return { messageId: 'm' }
      },
      sendBatch: async (entries: Array<{ id: string; traceHeader?: string }>) => {
        sent.push(...entries.map((e) => e.traceHeader))
        return { successful: [], failed: [] }
      },
    } as unknown as QueuePort
    const draws = Array.from({ length: 100 }, (_, i) => i / 100)
    const stamped = stampingQueue(queue, { sampleRate: 0.05, random: sequence(...draws) })
    await stamped.sendBatch(draws.map((_, i) => ({ id: String(i), body: '{}' })))
    expect(sent.filter((h) => parseTraceHeader(h)?.sampled).length).toBe(5)
    expect(sent.every((h) => parseTraceHeader(h) !== undefined)).toBe(true)

    sent.length = 0
    const given = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1'
    await stamped.send('{}', { traceHeader: given })
    await stamped.send('{}', { traceHeader: undefined }) // an explicit undefined gets a new header
    await stamped.sendBatch([{ id: 'a', body: '{}', traceHeader: undefined }])
    expect(sent[0]).toBe(given)
    expect(parseTraceHeader(sent[1])).toBeDefined()
    expect(parseTraceHeader(sent[2])).toBeDefined()
  })

  it('reads the share from the dispatcher env (default 5 %) and refuses one outside 0..1', () => {
    const base = { QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q' }
    expect(readDispatcherEnv(base).TRACE_SAMPLE_RATE).toBe(0.05)
    expect(readDispatcherEnv({ ...base, TRACE_SAMPLE_RATE: '0.2' }).TRACE_SAMPLE_RATE).toBe(0.2)
    expect(() => readDispatcherEnv({ ...base, TRACE_SAMPLE_RATE: '5' })).toThrow(/TRACE_SAMPLE_RATE/)
  })

  it('takes the stage setting at deploy time', () => {
    expect(traceSampleRate('')).toBe('0.05')
    expect(traceSampleRate('0.01')).toBe('0.01')
    expect(() => traceSampleRate('all')).toThrow(/DIALCTL_TRACE_SAMPLE_RATE/)
  })
})
