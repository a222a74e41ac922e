import type { Db } from '../db/pool.js'

/**
 * The fate of each dial task, written once per decision so nothing is lost silently.
 * Final outcomes: dialed, duplicate, dropped (with reason), dlq. Retryable ones (deferred: re-queued
 * for the limiter's next slot without spending a receive; rate_limited, failed) precede a later
 * final one.
 */
export type TaskOutcomeKind =
  'deferred' | 'dialed' | 'dlq' | 'dropped' | 'duplicate' | 'failed' | 'filtered' | 'rate_limited'

export interface TaskOutcome {
  messageId?: string
  campaignId?: string
  contactId?: string
  attempt?: number
  stage: 'filter' | 'enrich' | 'dialer' | 'queue' | 'dispatcher'
  outcome: TaskOutcomeKind
  reason?: string
  callId?: string
}

/** One INSERT for the whole list: the handlers record a batch in one round trip. */
export async function recordTaskOutcomes(db: Db, outcomes: TaskOutcome[]): Promise<void> {
  if (outcomes.length === 0) return
  const values: unknown[] = []
  const rows = outcomes.map((o, i) => {
    values.push(
      o.messageId ?? null,
      o.campaignId ?? null,
      o.contactId ?? null,
      o.attempt ?? null,
      o.stage,
      o.outcome,
      o.reason ?? null,
      o.callId ?? null,
    )
    const b = i * 8
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`
  })
  await db.query(
    `INSERT INTO task_outcomes (message_id, campaign_id, contact_id, attempt, stage, outcome, reason, call_id)
     VALUES ${rows.join(', ')}`,
    values,
  )
}
