import type { Db } from '../db/pool.js'
import { bestEffort } from '../errors.js'

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

/** Backoff between attempts of an outcome write, ms: ~8 s in all, within any visibility timeout. */
export const OUTCOME_RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 4000] as const

export interface OutcomeWriter {
  /**
   * Writes `outcomes` (and any left from an earlier call first, in order), retrying with backoff
   * while PostgreSQL refuses, drops or has no free connection (pool exhausted). The caller waits:
   * that wait is the backpressure on the pipe. Rejects only when every attempt failed; the
   * outcomes then stay pending and are written by the next call — never dropped.
   */
  record(outcomes: TaskOutcome[]): Promise<void>
  /** outcomes not yet written */
  pending(): number
}

/**
 * Outcome writes that survive pool exhaustion and short PostgreSQL outages (issue #15: 61 dialed
 * tasks without an outcome row when connections ran out). One writer per process; concurrent
 * calls are serialised so a later batch's rows never overtake an earlier one's.
 */
export function createOutcomeWriter(
  db: Db,
  options: { retryDelaysMs?: readonly number[]; sleep?: (ms: number) => Promise<void> } = {},
): OutcomeWriter {
  const delays = options.retryDelaysMs ?? OUTCOME_RETRY_DELAYS_MS
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const outbox: TaskOutcome[] = []
  let chain: Promise<void> = Promise.resolve()
  const flush = async () => {
    for (let tryNo = 0; outbox.length; tryNo++) {
      const batch = outbox.slice()
      try {
        await recordTaskOutcomes(db, batch)
        outbox.splice(0, batch.length)
      } catch (error) {
        if (tryNo >= delays.length) throw error
        await sleep(delays[tryNo]!)
      }
    }
  }
  return {
    record(outcomes) {
      outbox.push(...outcomes)
      const run = chain.then(flush)
      chain = bestEffort(run, 'the caller of record() sees the error; the next flush must still run')
      return run
    },
    pending: () => outbox.length,
  }
}
