import { describe, expect, it } from 'vitest'
import { admitAndDial } from '../../src/dialer/admission.js'
import type { DialerDeps } from '../../src/dialer/handle-batch.js'
import { Ledger, type TaskItem } from '../../src/dialer/ledger.js'
import { createLogger } from '../../src/observability/logger.js'

function item(id: string, deferredUntil?: number): TaskItem {
  const task = {
    campaignId: 'c1',
    contactId: id,
    phone: '+14155550100',
    attempts: 0,
    deferredUntil,
  } as unknown as TaskItem['task']
  return { kind: 'task', index: 0, messageId: id, task, key: id }
}

describe('admitAndDial: a task back from a deferral', () => {
  it('is dialed once even when the clock ticks between reading it as early and as due', async () => {
    let clock = 1_000_000
    const nowMs = () => clock++ // every read of the clock sees 1 ms more
    const deps = {
      nowMs,
      sleep: async (ms: number) => {
        clock += ms
      },
      limitStore: { getLimit: async () => ({ limit: 100, source: 'test' }) },
      limiter: {
        admit: async (n: number, limit: number) => ({
          delaysMs: Array.from({ length: n }, () => 0),
          deferDelaysMs: [],
          mode: 'redis' as const,
          limit,
        }),
      },
      logger: createLogger({ level: 'error' } as never),
    } as unknown as DialerDeps
    // clock reads: holdUntil (1_000_000), early() in the held filter (1_000_001), early() in rest (1_000_002)
    const t = item('m1', 1_000_001 + 901)
    const dialed: string[] = []
    await admitAndDial(deps, [t], new Ledger(), async (i) => {
      dialed.push(i.messageId)
      return undefined
    })
    expect(dialed).toEqual(['m1'])
  })
})
