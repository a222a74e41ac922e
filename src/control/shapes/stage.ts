import { z } from 'zod'
import type { DialTask } from '../../contracts/index.js'

/** The stage-specific shapes of the control port (port.ts): the pipe, the queues and DLQ, alarms, pushed tasks. */

export const PIPE_STATES = [
  'RUNNING',
  'STOPPED',
  'CREATING',
  'UPDATING',
  'DELETING',
  'STARTING',
  'STOPPING',
  'CREATE_FAILED',
  'UPDATE_FAILED',
  'START_FAILED',
  'STOP_FAILED',
  'DELETE_FAILED',
  'CREATE_ROLLBACK_FAILED',
  'DELETE_ROLLBACK_FAILED',
  'UPDATE_ROLLBACK_FAILED',
  'UNKNOWN',
] as const

export const PipeDescription = z.object({
  name: z.string(),
  state: z.string(),
  desiredState: z.string(),
  stateReason: z.string().optional(),
  source: z.string(),
  filter: z.string().optional(),
  batchSize: z.number().int().optional(),
  batchWindowSeconds: z.number().optional(),
  enrichment: z.string().optional(),
  target: z.string(),
})
export type PipeDescription = z.infer<typeof PipeDescription>

export const PipeMetrics = z.object({
  windowMinutes: z.number().int().positive(),
  executions: z.number().nonnegative(),
  failures: z.number().nonnegative(),
  /** the dialer's counts over the window: dials the worker accepted (absent: not measured) */
  dialed: z.number().nonnegative().optional(),
  /** ...and tasks deferred because the worker answered 429 / 503 draining (docs/health.md) */
  workerDeferrals: z.number().nonnegative().optional(),
})
export type PipeMetrics = z.infer<typeof PipeMetrics>

export const QueueDepth = z.object({
  visible: z.number().int().nonnegative(),
  inFlight: z.number().int().nonnegative(),
  oldestAgeSeconds: z.number().nonnegative(),
})
export type QueueDepth = z.infer<typeof QueueDepth>

export const DlqMessage = z.object({
  messageId: z.string(),
  campaignId: z.string().optional(),
  contactId: z.string().optional(),
  /** masked: the full number never reaches a terminal or a log */
  phone: z.string().optional(),
  attempts: z.number().int().optional(),
  /** set when the body is not a DialTask (e.g. bad JSON), first 80 chars, phone numbers masked */
  bodySummary: z.string().optional(),
  receiveCount: z.number().int().nonnegative(),
  sentAt: z.string(),
  firstReceivedAt: z.string().optional(),
})
export type DlqMessage = z.infer<typeof DlqMessage>

export const RedriveStatus = z.object({
  status: z.string(),
  taskHandle: z.string().optional(),
  moved: z.number().int().nonnegative(),
  toMove: z.number().int().nonnegative().optional(),
  maxPerSecond: z.number().int().optional(),
  startedAt: z.string().optional(),
  failureReason: z.string().optional(),
})
export type RedriveStatus = z.infer<typeof RedriveStatus>

export const Alarm = z.object({
  name: z.string(),
  state: z.string(),
  reason: z.string().optional(),
  updatedAt: z.string().optional(),
})
export type Alarm = z.infer<typeof Alarm>

export const PushResult = z.object({
  sent: z.array(z.object({ id: z.string(), messageId: z.string() })),
  failed: z.array(z.object({ id: z.string(), code: z.string(), message: z.string() })),
})
export type PushResult = z.infer<typeof PushResult>

/** One entry of a batch to push: `id` is the caller's (echoed back), the task is validated. */
export interface PushEntry {
  id: string
  task: DialTask
  /** explicit IANA zone of the callee (`push --timezone`), stored on the contact push creates */
  timezone?: string
}
