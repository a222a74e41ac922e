import type { EnrichedDialTask as Task } from '../contracts/index.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'

/** What became of one record of a dialer batch (its task_outcomes row's outcome). */
export type Fate = 'dialed' | 'duplicate' | 'dropped' | 'deferred' | 'rate_limited' | 'failed'

/** One record of the batch after parsing: a task to dial, or why it is not one. */
export type Item =
  | { kind: 'task'; index: number; messageId: string; task: Task; key: string }
  | { kind: 'invalid'; index: number; messageId: string; error: string }
export type TaskItem = Extract<Item, { kind: 'task' }>

export interface Decision {
  index: number
  outcome: TaskOutcome
  retry: boolean
}

/** Collects one decision per record, counted by fate; outcomes come out in batch order. */
export class Ledger {
  readonly decided: Decision[] = []
  readonly counts: Record<Fate, number> = {
    dialed: 0,
    duplicate: 0,
    dropped: 0,
    deferred: 0,
    rate_limited: 0,
    failed: 0,
  }
  /** idempotency keys of dials the worker accepted (or had accepted): marked in Redis after */
  readonly accepted: string[] = []

  record(item: Item, fate: Fate, reason?: string, callId?: string): void {
    this.counts[fate]++
    const t = item.kind === 'task' ? item.task : undefined
    this.decided.push({
      index: item.index,
      retry: fate !== 'dialed' && fate !== 'duplicate' && fate !== 'dropped' && fate !== 'deferred',
      outcome: {
        messageId: item.messageId,
        campaignId: t?.campaignId,
        contactId: t?.contactId,
        attempt: t?.attempts,
        stage: 'dialer',
        outcome: fate,
        reason,
        callId,
      },
    })
  }

  ordered(): Decision[] {
    return [...this.decided].sort((a, b) => a.index - b.index)
  }
}
