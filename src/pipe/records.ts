import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import type { QueueMessage, QueuePort } from '../queue/port.js'
import { errorMessage } from '../errors.js'

/** An SQS record exactly as Pipes / Lambda hand it to the enrichment and the target. */
export interface PipeRecord {
  messageId: string
  receiptHandle: string
  body: string
  attributes: {
    ApproximateReceiveCount: string
    SentTimestamp: string
    SenderId: string
    ApproximateFirstReceiveTimestamp: string
    /** the message's X-Ray trace header, when its sender set one (SQS system attribute) */
    AWSTraceHeader?: string
  }
  messageAttributes: Record<string, never>
  md5OfBody: string
  eventSource: 'aws:sqs'
  eventSourceARN: string
  awsRegion: string
}

/** A queue message as the SQS record Pipes would hand on (`eventSourceARN` names the source). */
export function toPipeRecord(m: QueueMessage, eventSourceARN: string): PipeRecord {
  return {
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentAt.getTime()),
      SenderId: m.attributes?.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: String((m.firstReceivedAt ?? m.sentAt).getTime()),
      ...(m.attributes?.AWSTraceHeader ? { AWSTraceHeader: m.attributes.AWSTraceHeader } : {}),
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(m.body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion: 'local',
  }
}

const TaskIds = z.object({
  campaignId: z.string().optional(),
  contactId: z.string().optional(),
  attempts: z.number().int().nonnegative().optional(),
})

/** The task_outcomes row the pipe records for a record it settles itself (filtered, …). */
export function pipeOutcome(
  r: PipeRecord,
  stage: TaskOutcome['stage'],
  outcome: TaskOutcome['outcome'],
  reason: string,
): TaskOutcome {
  let ids: z.infer<typeof TaskIds> = {}
  try {
    const parsed = TaskIds.safeParse(JSON.parse(r.body))
    if (parsed.success) ids = parsed.data
  } catch {
    // not JSON: recorded without campaign/contact
  }
  return {
    messageId: r.messageId,
    ...(ids.campaignId ? { campaignId: ids.campaignId } : {}),
    ...(ids.contactId ? { contactId: ids.contactId } : {}),
    ...(ids.attempts !== undefined ? { attempt: ids.attempts } : {}),
    stage,
    outcome,
    reason,
  }
}

/**
 * Hides each failed record for base × 2^(n−1) s (n its receive count), at most max: retries
 * spread out, then the queue's redrive policy decides. A handle that is no longer current goes
 * to `onError` with the error's message; the others are still delayed.
 */
export async function retryWithBackoff(
  source: QueuePort,
  records: PipeRecord[],
  backoff: { baseSeconds: number; maxSeconds: number },
  onError: (record: PipeRecord, error: string) => void,
): Promise<void> {
  await Promise.all(
    records.map(async (r) => {
      const receives = Number(r.attributes.ApproximateReceiveCount) || 1
      const delay = Math.min(backoff.maxSeconds, backoff.baseSeconds * 2 ** (receives - 1))
      try {
        await source.changeVisibility(r.receiptHandle, delay)
      } catch (error) {
        onError(r, errorMessage(error))
      }
    }),
  )
}
