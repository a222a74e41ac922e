import { z } from 'zod'
import { usageError, type OperatorError } from '../errors.js'
import { describeZodError } from './errors.js'
import { SafeId } from './messages.js'

/**
 * What an operator types, checked with one rule wherever it arrives: by the CLI command before
 * anything is sent, and again by the stage's control API (src/control/control-api.ts), which
 * trusts no caller. Each schema names the rule's source.
 */

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/

/** A campaign id as stored and queued: DialTask.campaignId's rule (non-empty, ≤ 200, no control characters). */
export const CampaignId = SafeId

/**
 * A `--reason` kept in an audit trail (pacing_audit, campaign_events): one line an engineer can
 * read back in `cps history`/`campaign show` — no control characters (an ESC sequence would run
 * in the reader's terminal), at most 500 characters, not blank.
 */
export const AuditReason = z
  .string()
  .max(500, { error: 'must be at most 500 characters' })
  .refine((s) => s.trim() !== '', { error: 'is empty; say why, e.g. --reason "carrier asked"' })
  .refine((s) => !CONTROL_CHARS.test(s), { error: 'must be one line without control characters' })

/** A look-back window in minutes (doctor, outcomes, media health): a day at most. */
export const WindowMinutes = z
  .number()
  .int()
  .min(1)
  .max(24 * 60)

/** How many audit entries `cps history` may ask for at once. */
export const HistoryLimit = z.number().int().min(1).max(1000)

/**
 * `value` parsed with `schema`, or a usage error (exit 2) naming the field and the command to run
 * instead. `field` is how the operator knows the value (a flag or an argument).
 */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, field: string, next: string): T {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  throw inputError(`${field} ${describeZodError(parsed.error).replace(/^\(root\): /, '')}`, next)
}

/** The error of a refused input: what is wrong (naming the field) and the command to run next. */
export function inputError(problem: string, next: string): OperatorError {
  return usageError(`${problem}.`, next, 'INVALID_INPUT')
}
