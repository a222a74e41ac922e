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

/**
 * A pushed batch: every entry is in `sent` or `failed` once. A failed entry the stage refused before
 * sending (registerPushedContacts) carries what to do and the exit code `dialctl push` uses for it;
 * one the queue refused has the queue's code and message only.
 */
export const PushResult = z.object({
  sent: z.array(z.object({ id: z.string(), messageId: z.string() })),
  failed: z.array(
    z.object({
      id: z.string(),
      code: z.string(),
      message: z.string(),
      suggestion: z.string().optional(),
      exitCode: z.number().int().optional(),
    }),
  ),
})
export type PushResult = z.infer<typeof PushResult>

/**
 * A pushed task that is not sent, and why. `exitCode` is what `dialctl push` exits with for it:
 * 2 for the task itself (size, a conflict with a contact, a repeat in the batch), 1 for the stage
 * (the campaign does not exist).
 */
export const PushRefusal = z.object({
  id: z.string(),
  code: z.enum([
    'PUSH_CONTACT_CONFLICT',
    'PUSH_DUPLICATE_TASK',
    'PUSH_ATTEMPTS_EXHAUSTED',
    'TASK_TOO_LARGE',
    'CAMPAIGN_NOT_FOUND',
    'CAMPAIGN_NOT_ACTIVE',
  ]),
  message: z.string(),
  suggestion: z.string(),
  exitCode: z.number().int(),
})
export type PushRefusal = z.infer<typeof PushRefusal>

/**
 * What registerPushedContacts did with a batch; every entry is counted once:
 * `inserted + existing + refused.length` is the number of entries.
 */
export const PushRegistration = z.object({
  /** contact rows created, queued at the task's attempt */
  inserted: z.number().int().nonnegative(),
  /** entries whose contact already exists with the same number and attempt (a re-push, judged by the gate as a redelivery) */
  existing: z.number().int().nonnegative(),
  /** entries to send none of: nothing was written for them */
  refused: z.array(PushRefusal),
})
export type PushRegistration = z.infer<typeof PushRegistration>

/** One entry of a batch to push: `id` is the caller's (echoed back), the task is validated. */
export interface PushEntry {
  id: string
  task: DialTask
  /** explicit IANA zone of the callee (`push --timezone`), stored on the contact push creates */
  timezone?: string
}
