import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { errorMessage } from '../errors.js'

/**
 * The adaptive controller's policy. The defaults are the seed's table (CPU < 70% → 100,
 * 70–85% → 50, > 85% → 25) plus what keeps it from flapping: a hysteresis margin and a cooldown
 * for increases. Boundaries: a tier applies while CPU is below its `cpuBelow`; exactly 70% is
 * already the 50 CPS tier (the cautious side of the seed's overlapping "< 70" / "70–85").
 */
export const CpuTier = z.object({
  /** this tier applies while CPU % < cpuBelow; the last tier has none (catch-all) */
  cpuBelow: z.number().gt(0).max(100).optional(),
  limit: z.number().int().min(1),
})
export type CpuTier = z.infer<typeof CpuTier>

export const DEFAULT_TIERS: CpuTier[] = [
  { cpuBelow: 70, limit: 100 },
  { cpuBelow: 85, limit: 50 },
  { limit: 25 },
]

export const AnswerRatePolicy = z.object({
  /** answer rate (0–1) below which the pace is reduced */
  threshold: z.number().min(0).max(1).default(0.2),
  /** calls needed in the sample before the rate counts */
  minSample: z.number().int().min(1).default(50),
  /** the CPU tier's limit is multiplied by this while the answer rate is low */
  factor: z.number().gt(0).max(1).default(0.5),
  /** the rate must climb back to threshold + this before the reduction is lifted */
  recoveryMargin: z.number().min(0).max(1).default(0.05),
})
export type AnswerRatePolicy = z.infer<typeof AnswerRatePolicy>

export const PacingPolicy = z
  .object({
    tiers: z.array(CpuTier).min(1).default(DEFAULT_TIERS),
    /** CPU points below a tier's threshold needed before stepping up to it */
    cpuHysteresis: z.number().min(0).max(50).default(5),
    answerRate: AnswerRatePolicy.default(AnswerRatePolicy.parse({})),
    /** seconds after any change before the limit may rise again; cuts are never delayed */
    increaseCooldownSeconds: z.number().min(0).default(120),
    /** one raise at most multiplies the limit by this (25 → 50 → 100 with the seed's tiers) */
    maxRaiseFactor: z.number().gt(1).default(2),
    floor: z.number().int().min(1).default(5),
    ceiling: z.number().int().min(1).default(100),
  })
  .superRefine((p, ctx) => {
    p.tiers.forEach((tier, i) => {
      const last = i === p.tiers.length - 1
      if (last && tier.cpuBelow !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'cpuBelow'],
          message: 'the last tier is the catch-all: remove cpuBelow',
        })
      if (!last && tier.cpuBelow === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'cpuBelow'],
          message: 'required on every tier but the last',
        })
      const prev = p.tiers[i - 1]
      if (
        prev &&
        tier.cpuBelow !== undefined &&
        prev.cpuBelow !== undefined &&
        tier.cpuBelow <= prev.cpuBelow
      )
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'cpuBelow'],
          message: 'must be higher than the previous tier',
        })
      if (prev && tier.limit > prev.limit)
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'limit'],
          message: 'must not exceed the previous (cooler) tier',
        })
    })
    if (p.floor > p.ceiling)
      ctx.addIssue({ code: 'custom', path: ['floor'], message: `must not exceed ceiling (${p.ceiling})` })
  })
export type PacingPolicy = z.infer<typeof PacingPolicy>

export const DEFAULT_PACING_POLICY: PacingPolicy = PacingPolicy.parse({})

/** Validates a policy object; fields left out take the defaults. Errors name the field. */
export function parsePacingPolicy(input: unknown, origin = 'pacing policy'): PacingPolicy {
  const parsed = PacingPolicy.safeParse(input)
  if (!parsed.success) throw new Error(`${origin}: ${describeZodError(parsed.error)}`)
  return parsed.data
}

/** Reads a JSON policy file (`dialctl cps auto --policy FILE`, the pacer Lambda's bundled file). */
export function loadPacingPolicy(path?: string): PacingPolicy {
  if (!path) return DEFAULT_PACING_POLICY
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new Error(
      `pacing policy ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`,
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new Error(`pacing policy ${path}: not valid JSON (${errorMessage(error)})`)
  }
  return parsePacingPolicy(json, `pacing policy ${path}`)
}
