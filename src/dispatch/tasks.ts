import { DialTask, describeZodError } from '../contracts/index.js'
import { taskSizeProblem } from '../tasks/limits.js'
import type { ClaimedContact } from './contacts.js'

/**
 * Why a claimed contact cannot become a dial task; stored as the contact's last_outcome when it is
 * failed: `invalid_phone` (the stored number is not E.164), `invalid_contact` (another field the
 * DialTask contract refuses: an id over 200 characters, a control character in the metadata),
 * `task_too_large` (the task would exceed MAX_DIAL_TASK_BYTES, what the worker accepts with the
 * campaign's config — src/tasks/limits.ts).
 */
export type RejectReason = 'invalid_phone' | 'invalid_contact' | 'task_too_large'

export interface Rejected {
  contactId: string
  attempts: number
  lastOutcome: RejectReason
  /** what the operator reads in task_outcomes.reason */
  reason: string
}

/**
 * The dispatcher's edge (zod and the size limit): a claimed contact that would be a task the queue,
 * enrich or the worker refuses becomes one recorded refusal here — never an SQS send that fails
 * (a message over the queue's limit) or a task that retries into the DLQ (a dial command over the
 * worker's body limit, issue #15). Import and `push` refuse the same contacts earlier; this is the
 * authority for rows written any other way (an older import, SQL by hand, a metadata update).
 */
export function toDialTasks(
  campaignId: string,
  contacts: ClaimedContact[],
): { tasks: DialTask[]; rejected: Rejected[] } {
  const tasks: DialTask[] = []
  const rejected: Rejected[] = []
  for (const c of contacts) {
    const refuse = (lastOutcome: RejectReason, reason: string) =>
      rejected.push({ contactId: c.id, attempts: c.attempts, lastOutcome, reason })
    const parsed = DialTask.safeParse({
      campaignId,
      contactId: c.id,
      phoneNumber: c.phoneNumber,
      metadata: c.metadata,
      attempts: c.attempts,
    })
    if (!parsed.success) {
      const onlyPhone = parsed.error.issues.every((i) => i.path[0] === 'phoneNumber')
      refuse(
        onlyPhone ? 'invalid_phone' : 'invalid_contact',
        `invalid contact: ${describeZodError(parsed.error)}`,
      )
      continue
    }
    const tooBig = taskSizeProblem(parsed.data)
    if (tooBig) refuse('task_too_large', `task too large: ${tooBig}; shorten the contact's metadata`)
    else tasks.push(parsed.data)
  }
  return { tasks, rejected }
}
