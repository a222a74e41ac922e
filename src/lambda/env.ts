import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { DEFAULT_MAX_CPS } from '../pacing/limit-store.js'

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
