import { z } from 'zod'

/** The pacing shapes of the control port (port.ts): the CPS limit, its audit trail, live admissions, controller inputs. */

/** redis = the live copy; postgres = restored from the durable state after Redis lost it; default = MAX_CPS */
export const LimitSource = z.enum(['redis', 'postgres', 'default'])
export type LimitSource = z.infer<typeof LimitSource>

export const LimitInfo = z.object({
  limit: z.number().int().positive(),
  /** redis = set by an operator or the controller; default = MAX_CPS, Redis holds none */
  source: LimitSource,
  defaultLimit: z.number().int().positive(),
})
export type LimitInfo = z.infer<typeof LimitInfo>

export const AuditEntry = z.object({
  at: z.string(),
  actor: z.string(),
  source: z.string(),
  oldLimit: z.number().int().nullable(),
  newLimit: z.number().int(),
  reason: z.string(),
})
export type AuditEntry = z.infer<typeof AuditEntry>

export const CpsSecond = z.object({
  /** unix seconds */
  second: z.number().int(),
  admitted: z.number().int().nonnegative(),
  rateLimited: z.number().int().nonnegative(),
})
export type CpsSecond = z.infer<typeof CpsSecond>

/** Who controls the limit (issue #12): the adaptive pacer, or an operator's hold. */
export const PacingControlInfo = z.object({
  mode: z.enum(['auto', 'held']),
  heldBy: z.string().optional(),
  /** ISO time the hold ends by itself; absent while held: until `cps auto --resume` */
  heldUntil: z.string().optional(),
  holdReason: z.string().optional(),
  lastChange: z
    .object({ at: z.string(), actor: z.string(), source: z.string(), reason: z.string() })
    .nullable(),
})
export type PacingControlInfo = z.infer<typeof PacingControlInfo>

export const PacingSnapshot = z.object({
  limit: LimitInfo,
  /** optional so older snapshots still parse; the data plane always fills it */
  control: PacingControlInfo.optional(),
  /** admissions in the last complete second */
  cpsNow: z.number().nonnegative(),
  /** oldest first, one entry per second, gaps filled with zeros */
  last60: z.array(CpsSecond),
  /** rate-limited / (admitted + rate-limited) over the last 60 s; 0 when idle */
  rateLimitedShare: z.number().min(0).max(1),
  /** a dialer ran in degraded mode (Redis unreachable) within the last minute */
  degraded: z.boolean(),
})
export type PacingSnapshot = z.infer<typeof PacingSnapshot>

export const ControllerInputs = z.object({
  /** average CPU of the worker fleet, 0–100; null when no data */
  cpuPercent: z.number().nullable(),
  /** human-answered / finished calls over the sample window (machines are not answers); null when no data */
  answerRate: z.number().nullable(),
  /** finished calls in the window (the answer-rate rule needs a minimum sample) */
  sample: z.number().int().nonnegative(),
  at: z.string(),
})
export type ControllerInputs = z.infer<typeof ControllerInputs>
