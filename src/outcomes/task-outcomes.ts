import type { Db } from '../db/pool.js'

/**
 * The fate of each dial task, written once per decision so nothing is lost silently.
 * Final outcomes: dialed, duplicate, dropped (with reason), dlq. Retryable ones (rate_limited,
 * failed) precede a later final one.
 */
export type TaskOutcomeKind =
  'dialed' | 'duplicate' | 'dropped' | 'filtered' | 'rate_limited' | 'failed' | 'dlq'

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

/** PostgreSQL text refuses NUL: one such byte in a forged id would abort the whole batch's INSERT. */
const text = (value: string | undefined): string | null =>
  value === undefined ? null : value.replaceAll('\u0000', '\uFFFD')
/** integer column: a forged attempts (2147483647 + 1, 1e300) is stored as unknown, not an error */
const int4 = (value: number | undefined): number | null =>
  value !== undefined && Number.isInteger(value) && Math.abs(value) <= 2_147_483_647 ? value : null

/**
 * One INSERT for the whole list: the handlers record a batch in one round trip. Every value is
 * made storable first (see text, int4), so one bad record cannot make the others' rows fail.
 */
export async function recordTaskOutcomes(db: Db, outcomes: TaskOutcome[]): Promise<void> {
  if (outcomes.length === 0) return
  const values: unknown[] = []
  const rows = outcomes.map((o, i) => {
    values.push(
      text(o.messageId),
      text(o.campaignId),
      text(o.contactId),
      int4(o.attempt),
      o.stage,
      o.outcome,
      text(o.reason),
      text(o.callId),
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
