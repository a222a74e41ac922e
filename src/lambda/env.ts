import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { DEFAULT_MAX_CPS } from '../pacing/limit-store.js'
import { DEFAULT_PACING_POLICY, parsePacingPolicy, type PacingPolicy } from '../pacing/policy.js'
import { errorMessage } from '../errors.js'

/**
 * The plain (non-secret) settings of the pacer and control Lambdas, set by stacks/functions.ts.
 * Stores and secrets are not here: they come from SST links (src/lambda/links.ts).
 */
export const ControlEnv = z.object({
  DIALCTL_REDIS_PREFIX: z.string().default(''),
  MAX_CPS: z.coerce.number().int().positive().default(DEFAULT_MAX_CPS),
  WORKER_CLUSTER_NAME: z.string().min(1).optional(),
  WORKER_SERVICE_NAME: z.string().min(1).optional(),
  /** JSON PacingPolicy overrides; default: the seed's table */
  PACING_POLICY: z.string().optional(),
  /** the stage bucket contacts files are uploaded to (control function; stacks/uploads.ts) */
  UPLOAD_BUCKET: z.string().min(1).optional(),
  /** set by Lambda itself; the control function calls this region's STS to verify its callers */
  AWS_REGION: z.string().min(1).default('us-east-1'),
})
export type ControlEnv = z.infer<typeof ControlEnv>

/** Throws an Error naming the variable to fix on the function. */
export function readControlEnv(env: NodeJS.ProcessEnv = process.env, fn = 'function'): ControlEnv {
  const parsed = ControlEnv.safeParse(env)
  if (!parsed.success)
    throw new Error(`${fn} environment invalid: ${describeZodError(parsed.error)}; set it on the function`)
  return parsed.data
}

/**
 * The pacer's policy: PACING_POLICY (JSON overrides of the seed's table) or the default.
 * @throws Error naming PACING_POLICY and the field when it is not JSON or not a valid policy
 */
export function pacingPolicyFromEnv(env: ControlEnv): PacingPolicy {
  if (!env.PACING_POLICY) return DEFAULT_PACING_POLICY
  let json: unknown
  try {
    json = JSON.parse(env.PACING_POLICY)
  } catch (error) {
    throw new Error(`PACING_POLICY is not valid JSON (${errorMessage(error)}); set it on the function`)
  }
  return parsePacingPolicy(json, 'PACING_POLICY')
}
