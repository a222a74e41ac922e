import { z } from 'zod'
import type { Db } from '../db/pool.js'
import type { DeadLetteredMessage } from '../queue/pg-queue.js'
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
 * The dial-tasks queue's dead-letter hook (PgQueue `onDeadLetter`): one `dlq` outcome per moved
 * message, in the move's own transaction, with the campaign / contact / attempt its body names.
 * The generic queue knows nothing of dial tasks; the local stack and the tests pass this hook.
 */
export async function recordDeadLetteredTasks(db: Db, moved: DeadLetteredMessage[]): Promise<void> {
  const outcomes: TaskOutcome[] = moved.map((m) => {
    const ids = idsOf(m.body)
    return {
      messageId: m.messageId,
      ...(ids.campaignId ? { campaignId: ids.campaignId } : {}),
      ...(ids.contactId ? { contactId: ids.contactId } : {}),
      ...(ids.attempts !== undefined ? { attempt: ids.attempts } : {}),
      stage: 'queue',
      outcome: 'dlq',
      reason: `received ${m.receiveCount} times (maxReceiveCount ${m.maxReceiveCount}): moved from ${m.sourceQueue} to ${m.deadLetterQueue}`,
    }
  })
  await recordTaskOutcomes(db, outcomes)
}
