import type pg from 'pg'
import { OperatorError } from '../cli/operator-error.js'
import { QueueError } from '../queue/limits.js'
import { DEFAULT_DLQ_NAME, DEFAULT_QUEUE_NAME, listLocalRedrives, PgQueue } from '../queue/pg-queue.js'
import type { QueueDepth, SendBatchEntry, SendBatchResult } from '../queue/port.js'
import { summarizeQueueBody } from './dlq-summary.js'
import { notAvailable } from './optional.js'
import type { DlqMessage, PipeDescription, PipeMetrics, RedriveStatus } from './port.js'

/** What the local adapter needs from the local queue (src/queue/pg-queue.ts). */
export interface LocalQueues {
  main: { depth(): Promise<QueueDepth>; sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult> }
  dlq: { depth(): Promise<QueueDepth>; purge(): Promise<number> }
  peekDlq(limit: number): Promise<DlqMessage[]>
  redrive(maxPerSecond?: number): Promise<RedriveStatus>
  lastRedrive(): Promise<RedriveStatus | undefined>
}

/** What the local adapter needs from the local pipe (src/pipe/local-pipe.ts). */
export interface LocalPipe {
  describe(): Promise<PipeDescription>
  metrics(windowMinutes: number): Promise<PipeMetrics>
  setDesiredState(state: 'RUNNING' | 'STOPPED'): Promise<void>
}

/** A local queue error (SQS's code and message) as an operator message. */
export async function queueCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof QueueError) {
      const missing = error.code === 'QueueDoesNotExist'
      throw new OperatorError(
        `Local queue: ${error.message}`,
        missing
          ? 'Start the local stack once (`dialctl dev`) so it creates its queues, or check DATABASE_URL / DATABASE_SCHEMA.'
          : 'Fix the value named above and retry.',
        missing ? 1 : 2,
        error.code,
      )
    }
    throw error
  }
}

export async function loadLocalQueues(
  pool: pg.Pool,
  names = { queue: DEFAULT_QUEUE_NAME, dlq: DEFAULT_DLQ_NAME },
): Promise<LocalQueues> {
  const main = new PgQueue(pool, names.queue)
  const dlq = new PgQueue(pool, names.dlq)
  return {
    main: {
      depth: () => queueCall(() => main.depth()),
      sendBatch: (entries) => queueCall(() => main.sendBatch(entries)),
    },
    dlq: { depth: () => queueCall(() => dlq.depth()), purge: () => queueCall(() => dlq.purge()) },
    async peekDlq(limit) {
      const messages = await queueCall(() => dlq.peek(limit))
      return messages.map((m) => ({
        messageId: m.messageId,
        ...summarizeQueueBody(m.body),
        receiveCount: m.receiveCount,
        sentAt: m.sentAt.toISOString(),
        ...(m.firstReceivedAt ? { firstReceivedAt: m.firstReceivedAt.toISOString() } : {}),
      }))
    },
    async redrive(maxPerSecond) {
      const task = await queueCall(() => dlq.redrive(maxPerSecond ? { maxPerSecond } : {}))
      return toStatus(task)
    },
    async lastRedrive() {
      const [task] = await queueCall(() => listLocalRedrives(pool, names.dlq, 1))
      return task ? toStatus(task) : undefined
    },
  }
}

function toStatus(task: {
  status: string
  taskHandle: string
  moved: number
  toMove: number
  maxPerSecond?: number
  startedAt: Date
  failureReason?: string
}): RedriveStatus {
  return {
    status: task.status,
    taskHandle: task.taskHandle,
    moved: task.moved,
    toMove: task.toMove,
    ...(task.maxPerSecond ? { maxPerSecond: task.maxPerSecond } : {}),
    startedAt: task.startedAt.toISOString(),
    ...(task.failureReason ? { failureReason: task.failureReason } : {}),
  }
}

export async function loadLocalPipe(_pool: pg.Pool): Promise<LocalPipe> {
  throw notAvailable('The local pipe (src/pipe/local-pipe)')
}
