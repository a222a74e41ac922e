import { z } from 'zod'

/**
 * `dialctl dev` writes where its services are (they may be embedded, on private ports) so that
 * dialctl commands in another terminal find them with no environment set. In its own module:
 * src/local-stack/stack-file.ts loads it only when a stack.json exists (zod costs every command's
 * start-up ~40 ms, issue #16).
 */
export const StackFile = z.object({
  pid: z.number().int(),
  /** the owner's start time beside its pid (/proc/<pid>/stat field 22, clock ticks since boot;
   * src/local-stack/process-identity.ts); absent where none is readable (macOS) */
  pidStartTime: z.string().optional(),
  startedAt: z.string(),
  databaseUrl: z.string(),
  redisUrl: z.string(),
  workerUrl: z.string(),
  pipeName: z.string(),
  /** the stack's default limit (`dev --max-cps`), used while Redis holds none */
  maxCps: z.number().int().positive().optional(),
  /** where maxCps came from: `dialctl dev --max-cps`, the MAX_CPS variable, or the built-in default */
  maxCpsFrom: z.enum(['--max-cps', 'MAX_CPS', 'built-in default']).optional(),
  /** PostgreSQL schema of the stack's tables (DATABASE_SCHEMA); absent = the default search_path */
  schema: z.string().optional(),
  /** key prefix of its pacing state in Redis (DIALCTL_REDIS_PREFIX); "" = none */
  redisPrefix: z.string().optional(),
  /** where its pipeline logs go (absent: stdout) */
  logFile: z.string().optional(),
})
export type StackFile = z.infer<typeof StackFile>
