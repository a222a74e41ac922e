import { z } from 'zod'
import type { Db } from '../db/pool.js'
import type { DeadLetterCauses, DeadLetteredMessage } from '../queue/pg-queue.js'
import { recordTaskOutcomes, type TaskOutcome } from './task-outcomes.js'

const TaskIds = z.object({
  campaignId: z.string().optional(),
  contactId: z.string().optional(),
  attempts: z.number().int().nonnegative().optional(),
})

function idsOf(body: string): z.infer<typeof TaskIds> {
  try {
    const parsed = TaskIds.safeParse(JSON.parse(body))
    return parsed.success ? parsed.data : {}
  } catch {
    return {} // not JSON: recorded without campaign/contact
  }
}

/**
 * Why each moved message failed its last receive: the newest retryable outcome (failed,
 * rate_limited) recorded for its messageId, as "outcome: reason". Read in the move's transaction.
 */
async function lastFailures(db: Db, messageIds: string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ message_id: string; outcome: string; reason: string | null }>(
    `SELECT DISTINCT ON (message_id) message_id, outcome, reason FROM task_outcomes
      WHERE message_id = ANY($1) AND outcome IN ('failed', 'rate_limited')
      ORDER BY message_id, id DESC`,
    [messageIds],
  )
  return new Map(rows.map((r) => [r.message_id, r.reason ? `${r.outcome}: ${r.reason}` : r.outcome]))
}

/**
 * The dial-tasks queue's dead-letter hook (PgQueue `onDeadLetter`): one `dlq` outcome per moved
 * message, in the move's own transaction, with the campaign / contact / attempt its body names and
 * the last failure recorded for it. Returns those failures so the queue logs them with the move.
 * The generic queue knows nothing of dial tasks; the local stack and the tests pass this hook.
 */
export async function recordDeadLetteredTasks(
  db: Db,
  moved: DeadLetteredMessage[],
): Promise<DeadLetterCauses> {
  const causes = await lastFailures(
    db,
    moved.map((m) => m.messageId),
  )
  const outcomes: TaskOutcome[] = moved.map((m) => {
    const ids = idsOf(m.body)
    const last = causes.get(m.messageId)
    return {
      messageId: m.messageId,
      ...(ids.campaignId ? { campaignId: ids.campaignId } : {}),
      ...(ids.contactId ? { contactId: ids.contactId } : {}),
      ...(ids.attempts !== undefined ? { attempt: ids.attempts } : {}),
      stage: 'queue',
      outcome: 'dlq',
      reason:
        `received ${m.receiveCount} times (maxReceiveCount ${m.maxReceiveCount}): moved from ${m.sourceQueue} to ${m.deadLetterQueue}` +
        (last ? `; last failure ${last}` : ''),
    }
  })
  await recordTaskOutcomes(db, outcomes)
  return causes
}
