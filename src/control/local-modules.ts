import type pg from 'pg'
import { OperatorError } from '../errors.js'
import { QueueError } from '../queue/limits.js'
import { DEFAULT_DLQ_NAME, DEFAULT_QUEUE_NAME, listLocalRedrives, PgQueue } from '../queue/pg-queue.js'
import type { QueueDepth, SendBatchEntry, SendBatchResult } from '../queue/port.js'
import { summarizeQueueBody } from './dlq-summary.js'
import { getPipeState, PipeNotFoundError, pipeMetrics, setPipeDesiredState } from '../pipe/state.js'
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

/** The seed's pipe name; `dialctl dev` registers its local pipe under DIALCTL_PIPE_NAME or this. */
export const DEFAULT_LOCAL_PIPE_NAME = 'dial-tasks-to-dialer-worker'

async function pipeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof PipeNotFoundError)
      throw new OperatorError(
        error.message,
        'Start the local stack (`dialctl dev`), or set DIALCTL_PIPE_NAME to the pipe it registered.',
        1,
        'PIPE_NOT_FOUND',
      )
    if ((error as { code?: string }).code === '42P01')
      throw new OperatorError(
        'The local pipe tables are missing.',
        'Run the migrations: dialctl db migrate (or start dialctl dev).',
        1,
        'NOT_MIGRATED',
      )
    throw error
  }
}

export async function loadLocalPipe(pool: pg.Pool, name = DEFAULT_LOCAL_PIPE_NAME): Promise<LocalPipe> {
  return {
    async describe() {
      const state = await pipeCall(() => getPipeState(pool, name))
      if (!state) return pipeCall(() => Promise.reject<PipeDescription>(new PipeNotFoundError(name)))
      // A RUNNING row whose runner stopped heart-beating is a pipe nobody runs.
      const dead = state.currentState !== 'STOPPED' && !state.runnerAlive
      const filter = state.config.filter
      return {
        name: state.name,
        state: dead ? 'STOPPED' : state.currentState,
        desiredState: state.desiredState,
        ...(dead
          ? { stateReason: 'no pipe runner alive: is `dialctl dev` running?' }
          : state.stateReason || state.lastError
            ? { stateReason: [state.stateReason, state.lastError].filter(Boolean).join('; ') }
            : {}),
        source: state.config.source,
        ...(filter !== undefined
          ? { filter: typeof filter === 'string' ? filter : JSON.stringify(filter) }
          : {}),
        batchSize: state.config.batchSize,
        batchWindowSeconds: state.config.batchWindowSeconds,
        ...(state.config.enrichment ? { enrichment: state.config.enrichment } : {}),
        target: state.config.target ?? '',
      }
    },
    async metrics(windowMinutes) {
      const m = await pipeCall(() => pipeMetrics(pool, name, windowMinutes))
      return {
        windowMinutes,
        executions: m.executions,
        failures: m.failedExecutions,
        dialed: m.tasksDialed,
        workerDeferrals: m.workerDeferrals,
      }
    },
    async setDesiredState(state) {
      await pipeCall(() =>
        setPipeDesiredState(pool, name, state, `dialctl pipe ${state === 'RUNNING' ? 'start' : 'stop'}`),
      )
    },
  }
}
