import { z } from 'zod'
import { Campaign } from './campaign.js'
import { IvrFlow } from './ivr.js'
import { PhoneNumber } from './phone.js'

export const Metadata = z.record(z.string(), z.unknown())

/** The body of an SQS dial-tasks message (seed, "Initial Message"). */
export const DialTask = z.object({
  campaignId: z.string().min(1),
  contactId: z.string().min(1),
  phoneNumber: PhoneNumber,
  metadata: Metadata.optional(),
  attempts: z.number().int().nonnegative(),
})
export type DialTask = z.infer<typeof DialTask>

/** Enrichment output (seed, "Enriched Message"); `messageId` ties it back to its SQS record. */
export const EnrichedDialTask = DialTask.extend({
  campaign: Campaign,
  enrichedAt: z.iso.datetime(),
  messageId: z.string().min(1),
})
export type EnrichedDialTask = z.infer<typeof EnrichedDialTask>

/** POST /dial body (seed, "Dial Command"). `attempt` is additive: the idempotency key's third part. */
export const DialCommand = z.object({
  callId: z.string().min(1),
  phoneNumber: PhoneNumber,
  campaignId: z.string().min(1),
  contactId: z.string().min(1),
  audioFileUrl: z.string().min(1),
  ivrFlow: IvrFlow,
  metadata: Metadata.optional().default({}),
  attempt: z.number().int().nonnegative().optional(),
  callerId: z.string().optional(),
  maxConcurrentCalls: z.number().int().positive().optional(),
  /**
   * Additive (h2, pacing): epoch ms of the limiter's slot for this call. The worker originates
   * no earlier than this, so the instants calls leave keep the limiter's spacing however the
   * POSTs bunch on the way.
   */
  notBefore: z.number().positive().optional(),
  /** Additive (h2, pacing): the CPS limit the slot was granted under; the worker's trunk gate keeps it. */
  cpsLimit: z.number().int().positive().optional(),
})
export type DialCommand = z.infer<typeof DialCommand>

/** Deterministic per (campaign, contact, attempt): a redelivered task maps to the same call. */
export function dialIdempotencyKey(task: Pick<DialTask, 'campaignId' | 'contactId' | 'attempts'>): string {
  return `${task.campaignId}:${task.contactId}:${task.attempts}`
}

/**
 * The call id of one contact attempt. Deterministic, so a redelivered task maps to the same call
 * (the worker refuses to place it twice), and usable as the ARI channel id.
 */
export function callIdFor(task: Pick<DialTask, 'campaignId' | 'contactId' | 'attempts'>): string {
  return `call-${task.campaignId}-${task.contactId}-${task.attempts}`
}
