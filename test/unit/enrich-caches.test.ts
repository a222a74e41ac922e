import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { callIdFor, Campaign, type EnrichedDialTask } from '../../src/contracts/index.js'
import { dialCommandFor } from '../../src/dialer/worker-client.js'
import {
  dialCommandBytesBound,
  dialCommandTooLarge,
  MAX_CALL_ID_JSON_BYTES,
  TASK_COMMAND_KEYS,
  WIDEST_SLOT,
} from '../../src/enrich/command-size.js'
import { PipeSqsRecord, readRecord } from '../../src/enrich/enrich-batch.js'
import { parsedCampaignRow } from '../../src/enrich/lookup.js'
import { describeZodError } from '../../src/contracts/index.js'
import { dialCommandSizeProblem, taskBytes, WORKER_MAX_BODY_BYTES } from '../../src/tasks/limits.js'
import { seedCampaign } from '../helpers/fixtures.js'

describe('parsedCampaignRow (the lookup cache)', () => {
  const rowText = (overrides: Record<string, unknown> = {}) => JSON.stringify(seedCampaign(overrides))

  it('one parse per row text: the same text is the same frozen result, a changed row is parsed at once', () => {
    const parse = vi.spyOn(Campaign, 'safeParse')
    const text = rowText({ id: 'cache-unit-1' })
    const first = parsedCampaignRow(text)
    expect(parsedCampaignRow(text)).toBe(first)
    expect(parse).toHaveBeenCalledTimes(1)
    expect(first).toEqual({
      id: 'cache-unit-1',
      campaign: { ok: true, campaign: seedCampaign({ id: 'cache-unit-1' }) },
    })
    // shared by every batch: nothing may change it
    expect(Object.isFrozen(first.campaign)).toBe(true)
    expect(first.campaign.ok && Object.isFrozen(first.campaign.campaign.config.ivrFlow.nodes[0])).toBe(true)

    const paused = parsedCampaignRow(rowText({ id: 'cache-unit-1', status: 'paused' }))
    expect(parse).toHaveBeenCalledTimes(2)
    expect(paused.campaign.ok && paused.campaign.campaign.status).toBe('paused')
    parse.mockRestore()
  })

  it('a row that does not parse is cached as not ok, with its id and the reason', () => {
    const broken = parsedCampaignRow(JSON.stringify({ ...seedCampaign({ id: 'cache-unit-2' }), config: {} }))
    expect(broken.id).toBe('cache-unit-2')
    expect(broken.campaign.ok).toBe(false)
  })
})

/** An enriched task of the seed campaign (frozen, as the lookup gives it) with `overrides`. */
function enriched(
  overrides: Partial<EnrichedDialTask> = {},
  config: Record<string, unknown> = {},
): EnrichedDialTask {
  const seed = seedCampaign()
  const parsed = parsedCampaignRow(JSON.stringify({ ...seed, config: { ...seed.config, ...config } }))
  if (!parsed.campaign.ok) throw new Error(parsed.campaign.error)
  return {
    campaignId: 'campaign-123',
    contactId: 'contact-1',
    phoneNumber: '+972501234567',
    metadata: { firstName: 'John' },
    attempts: 0,
    campaign: parsed.campaign.campaign,
    enrichedAt: '2024-01-15T08:30:00.000Z',
    messageId: 'm-1',
    ...overrides,
  }
}

const exactBytes = (task: EnrichedDialTask) => taskBytes({ ...dialCommandFor(task), ...WIDEST_SLOT })

describe('dial command size bound', () => {
  it('only TASK_COMMAND_KEYS of the dial command vary with anything but the campaign config', () => {
    const a = enriched()
    const b = enriched({
      campaignId: 'other-campaign',
      contactId: 'other-contact',
      phoneNumber: '+12015550100',
      metadata: { other: 'x'.repeat(50) },
      attempts: 7,
      deferredUntil: 1_700_000_000_000,
      enrichedAt: '2025-01-01T00:00:00.000Z',
      messageId: 'm-2',
      receiveCount: 3,
      traceHeader: 'Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1',
      campaign: { ...a.campaign, id: 'x', name: 'other', status: 'paused', timezone: 'UTC' },
    })
    const ca = dialCommandFor(a) as Record<string, unknown>
    const cb = dialCommandFor(b) as Record<string, unknown>
    const keys = new Set([...Object.keys(ca), ...Object.keys(cb)])
    const varying = [...keys].filter((k) => JSON.stringify(ca[k]) !== JSON.stringify(cb[k]))
    expect(varying.every((k) => (TASK_COMMAND_KEYS as readonly string[]).includes(k))).toBe(true)
    expect(varying.sort()).toEqual([...TASK_COMMAND_KEYS].sort())
  })

  it('is the exact size but for the call id, counted at its widest', () => {
    const id = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 })
    const anyId = fc.oneof(id, fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }))
    const json = fc.jsonValue()
    fc.assert(
      fc.property(
        anyId,
        anyId,
        fc.option(fc.dictionary(fc.string({ unit: 'binary' }), json), { nil: undefined }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom<Record<string, unknown>>(
          {},
          { callerId: '+972501234567' },
          { amd: { mode: 'voicemail', messageUrl: 'https://example.test/é.wav' } },
          { amd: { mode: 'off' } },
        ),
        (campaignId, contactId, metadata, attempts, config) => {
          const task = enriched({ campaignId, contactId, metadata, attempts }, config)
          if (metadata === undefined) delete task.metadata
          const exact = exactBytes(task)
          const callIdJson = JSON.stringify(callIdFor(task)).length
          expect(callIdJson).toBeLessThanOrEqual(MAX_CALL_ID_JSON_BYTES)
          expect(dialCommandBytesBound(task) - exact).toBe(MAX_CALL_ID_JSON_BYTES - callIdJson)
        },
      ),
      { numRuns: 300 },
    )
    // numbers that grow when re-encoded, lone surrogates, escapes
    const odd = enriched({ metadata: { n: 1e20, m: [1e-7, -0], s: '\ud800"\\\u0001é😀' } })
    expect(dialCommandBytesBound(odd) - exactBytes(odd)).toBe(
      MAX_CALL_ID_JSON_BYTES - JSON.stringify(callIdFor(odd)).length,
    )
  })

  it('decides as dialCommandSizeProblem does, near the limit too', () => {
    const base = enriched()
    const room = WORKER_MAX_BODY_BYTES - exactBytes({ ...base, metadata: { note: '' } })
    for (const pad of [room - 200, room - 1, room, room + 1, room + 500]) {
      const task = enriched({ metadata: { note: 'x'.repeat(pad) } })
      const exact = dialCommandSizeProblem({ ...dialCommandFor(task), ...WIDEST_SLOT })
      expect(dialCommandTooLarge(task)).toBe(exact)
      expect(exact === undefined).toBe(pad <= room)
    }
  })

  it('a config that is not frozen is measured afresh each time', () => {
    const task = enriched()
    const config = structuredClone(task.campaign.config)
    const open = { ...task, campaign: { ...task.campaign, config } }
    const before = dialCommandBytesBound(open)
    config.audioFileUrl += 'x'.repeat(100)
    expect(dialCommandBytesBound(open)).toBe(before + 100)
  })
})

describe('readRecord', () => {
  const viaZod = (raw: unknown) => {
    const r = PipeSqsRecord.safeParse(raw)
    if (!r.success) return { ok: false, error: `record ${describeZodError(r.error)}` }
    const count = r.data.attributes?.ApproximateReceiveCount
    return {
      ok: true,
      messageId: r.data.messageId,
      body: r.data.body,
      ...(count === undefined ? {} : { receiveCount: count }),
    }
  }
  const records: unknown[] = [
    { messageId: 'm', body: '{}' },
    { messageId: 'm', body: '{}', attributes: {} },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: '1', SentTimestamp: '2' } },
    { messageId: 'm', body: '', attributes: { ApproximateReceiveCount: '123456789012345' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: '1234567890123456789' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: 2 } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: '0' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: '01' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: ' 3 ' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: '1.0' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: '-1' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: 'x' } },
    { messageId: 'm', body: '{}', attributes: { ApproximateReceiveCount: null } },
    { messageId: 'm', body: '{}', attributes: null },
    { messageId: 'm', body: '{}', attributes: [] },
    { messageId: '', body: '{}' },
    { messageId: 1, body: '{}' },
    { messageId: 'm', body: {} },
    { messageId: 'm' },
    Object.assign([], { messageId: 'm', body: '{}' }),
    null,
    'text',
  ]
  it('reads every record as PipeSqsRecord does: accepted with the same values, or refused with its message', () => {
    for (const raw of records) {
      const read = readRecord(raw)
      const expected = viaZod(raw)
      if (read.ok) expect(read).toEqual(expected)
      else expect({ ok: false, error: read.error }).toEqual(expected)
    }
  })
})
