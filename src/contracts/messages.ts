import { createHash } from 'node:crypto'
import { z } from 'zod'
import { AmdConfig, Campaign } from './campaign.js'
import { IvrFlow } from './ivr.js'
import { PhoneNumber } from './phone.js'
import { MAX_TASK_ATTEMPTS } from '../tasks/limits.js'

/**
 * C0 controls (NUL, ESC, …) and DEL. PostgreSQL's text and jsonb refuse NUL outright, and an
 * escape sequence in an id would reach the operator's terminal: both are refused at the edge,
 * naming the field, instead of failing a whole batch's database write later.
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/

/** An id: non-empty, at most 200 characters, no control characters. */
export const SafeId = z
  .string()
  .min(1)
  .max(200)
  .refine((s) => !CONTROL_CHARS.test(s), { message: 'must not contain control characters (NUL, ESC, …)' })

/**
 * Control characters a metadata value may not hold: CONTROL_CHARS but TAB, LF and CR, which a
 * spreadsheet cell with a line break carries (issue #15: a multi-line CSV cell is imported whole)
 * and which JSON escapes; keys and ids still refuse them.
 */
// eslint-disable-next-line no-control-regex
const VALUE_CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/

function hasControlChars(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return VALUE_CONTROL_CHARS.test(value)
  if (depth > 32 || value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some((v) => hasControlChars(v, depth + 1))
  return Object.entries(value).some(([k, v]) => CONTROL_CHARS.test(k) || hasControlChars(v, depth + 1))
}

/** Free-form contact data; no key may carry a control character, no string value one but TAB/LF/CR (jsonb refuses NUL). */
export const Metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => !hasControlChars(m), { message: 'must not contain control characters (NUL, ESC, …)' })

// Upper bound of DialTask.attempts: defined beside the task size rule, which measures a task at it.
export { MAX_TASK_ATTEMPTS }

/** The body of an SQS dial-tasks message (seed, "Initial Message"). */
export const DialTask = z.object({
  campaignId: SafeId,
  contactId: SafeId,
  phoneNumber: PhoneNumber,
  metadata: Metadata.optional(),
  attempts: z.number().int().nonnegative().max(MAX_TASK_ATTEMPTS),
  /**
   * Additive (issue #12): set by the dialer when it defers the task, the slot the limiter promised
   * it, epoch ms. The task comes back a little before it (through the pipe's batching window) and
   * the dialer holds it until then instead of asking the limiter early (src/dialer/admission.ts).
   */
  deferredUntil: z.number().int().positive().optional(),
})
export type DialTask = z.infer<typeof DialTask>

/** Enrichment output (seed, "Enriched Message"); `messageId` ties it back to its SQS record. */
export const EnrichedDialTask = DialTask.extend({
  campaign: Campaign,
  enrichedAt: z.iso.datetime(),
  messageId: z.string().min(1),
  /**
   * Additive: the SQS record's ApproximateReceiveCount, so the dialer can warn when a failure is
   * the task's last before SQS moves it to the DLQ (the Lambda never sees that move itself).
   */
  receiveCount: z.number().int().positive().optional(),
  /**
   * Additive (issue #19): the task's X-Ray trace header after enrichment (`Root=…;Parent=<the
   * enriched span>;Sampled=1`), so the dialer's spans join the task's trace. Absent when tracing is off.
   */
  traceHeader: z.string().max(256).optional(),
})
export type EnrichedDialTask = z.infer<typeof EnrichedDialTask>

/** POST /dial body (seed, "Dial Command"). `attempt` is additive: the idempotency key's third part. */
export const DialCommand = z.object({
  callId: SafeId,
  phoneNumber: PhoneNumber,
  campaignId: SafeId,
  contactId: SafeId,
  audioFileUrl: z.string().min(1),
  ivrFlow: IvrFlow,
  metadata: Metadata.optional().default({}),
  attempt: z.number().int().nonnegative().max(MAX_TASK_ATTEMPTS).optional(),
  callerId: z.string().optional(),
  maxConcurrentCalls: z.number().int().positive().optional(),
  /** the campaign's answering-machine detection (absent = off) */
  amd: AmdConfig.optional(),
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

/** Longest readable call id; longer ids fall back to the hashed form (Asterisk keeps 150 bytes). */
const MAX_READABLE_CALL_ID = 120

const PLAIN_ID_PART = /^[A-Za-z0-9-]*$/

/** Keeps [A-Za-z0-9-]; every other UTF-8 byte (including "_" and ".") becomes _XX (hex). */
function escapeIdPart(value: string): string {
  // most ids need no escape: returned as they are, without a Buffer and a regex test per byte
  if (PLAIN_ID_PART.test(value)) return value
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`
  }
  return out
}

/**
 * The call id of one contact attempt: deterministic, so a redelivered task maps to the same call,
 * and injective in (campaign, contact, attempt), so two contacts never share one.
 *
 * Shape: `call.<campaign>.<contact>.<attempt>`, each id escaped (see escapeIdPart): "." never
 * occurs inside an escaped part, so the parts can be read back and distinct triples give distinct
 * strings (the old `call-<campaign>-<contact>-<attempt>` made gala/2026-17 and gala-2026/17 one
 * call). Only [A-Za-z0-9._-] appear, all safe in an ARI channel id, a Redis key and a log line.
 * When the escaped form would pass 120 characters (Asterisk stores a uniqueid in at most 150
 * bytes), the id is `callh.<sha256 of the length-prefixed triple>` instead: distinct prefixes keep
 * the two forms apart, and a SHA-256 collision is not a practical concern. Readable ids were kept
 * because operators grep logs and `ari channels` for them.
 */
export function callIdFor(task: Pick<DialTask, 'campaignId' | 'contactId' | 'attempts'>): string {
  const readable = `call.${escapeIdPart(task.campaignId)}.${escapeIdPart(task.contactId)}.${task.attempts}`
  if (readable.length <= MAX_READABLE_CALL_ID) return readable
  const triple = `${task.campaignId.length}:${task.campaignId}${task.contactId.length}:${task.contactId}${task.attempts}`
  return `callh.${createHash('sha256').update(triple, 'utf8').digest('hex')}`
}

/**
 * The dial's idempotency key (Redis dial markers): the call id, so it is injective in
 * (campaign, contact, attempt) too — a ":" inside an id can no longer make two tasks one key.
 */
export function dialIdempotencyKey(task: Pick<DialTask, 'campaignId' | 'contactId' | 'attempts'>): string {
  return callIdFor(task)
}
