import { SQS_MAX_BATCH, type QueuePort } from '../queue/port.js'
import type { DialTask } from '../contracts/index.js'

export interface SentTask {
  contactId: string
  messageId: string
}

export interface FailedTask {
  contactId: string
  code: string
  message: string
}

export interface SendTasksResult {
  sent: SentTask[]
  failed: FailedTask[]
}

/**
 * SendMessageBatch in chunks of 10 (the SQS limit), a few chunks in flight at once. Entry ids are
 * positional ("t0".."t9") because SQS ids allow only [A-Za-z0-9_-] and contact ids may not.
 * A chunk whose call throws counts all its entries as failed: the caller releases them.
 */
export async function sendDialTasks(
  queue: QueuePort,
  tasks: DialTask[],
  options: { concurrency?: number } = {},
): Promise<SendTasksResult> {
  const chunks: DialTask[][] = []
  for (let i = 0; i < tasks.length; i += SQS_MAX_BATCH) chunks.push(tasks.slice(i, i + SQS_MAX_BATCH))
  const result: SendTasksResult = { sent: [], failed: [] }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!
      const entries = chunk.map((task, i) => ({ id: `t${i}`, body: JSON.stringify(task) }))
      try {
        const res = await queue.sendBatch(entries)
        const contactOf = (id: string) => chunk[Number(id.slice(1))]!.contactId
        for (const s of res.successful)
          result.sent.push({ contactId: contactOf(s.id), messageId: s.messageId })
        for (const f of res.failed)
          result.failed.push({ contactId: contactOf(f.id), code: f.code, message: f.message })
        // An entry the queue neither acknowledged nor refused did not reach it for sure.
        const seen = new Set([...res.successful.map((s) => s.id), ...res.failed.map((f) => f.id)])
        for (const e of entries) {
          if (!seen.has(e.id))
            result.failed.push({
              contactId: contactOf(e.id),
              code: 'NoResult',
              message: 'entry missing from the batch result',
            })
        }
      } catch (error) {
        const e = error as Error & { name?: string; code?: string }
        for (const task of chunk)
          result.failed.push({
            contactId: task.contactId,
            code: e.code ?? e.name ?? 'Error',
            message: e.message,
          })
      }
    }
  }
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, chunks.length))
  await Promise.all(Array.from({ length: concurrency }, worker))
  return result
}
