import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'

/**
 * `dialctl dev` writes where its services are (they may be embedded, on private ports) so that
 * dialctl commands in another terminal find them with no environment set.
 */
export const StackFile = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  databaseUrl: z.string(),
  redisUrl: z.string(),
  workerUrl: z.string(),
  pipeName: z.string(),
  /** the stack's default limit (`dev --max-cps`), used while Redis holds none */
  maxCps: z.number().int().positive().optional(),
  /** PostgreSQL schema of the stack's tables (DATABASE_SCHEMA); absent = the default search_path */
  schema: z.string().optional(),
  /** key prefix of its pacing state in Redis (DIALCTL_REDIS_PREFIX); "" = none */
  redisPrefix: z.string().optional(),
  /** where its pipeline logs go (absent: stdout) */
  logFile: z.string().optional(),
})
export type StackFile = z.infer<typeof StackFile>

export function localDataDir(cwd = process.cwd()): string {
  return process.env.DIALCTL_HOME ?? join(cwd, '.dialctl')
}

function stackFilePath(dataDir = localDataDir()): string {
  return join(dataDir, 'stack.json')
}

export function writeStackFile(info: StackFile, dataDir = localDataDir()): void {
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(stackFilePath(dataDir), JSON.stringify(info, null, 2) + '\n')
}

export function removeStackFile(dataDir = localDataDir()): void {
  rmSync(stackFilePath(dataDir), { force: true })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The running local stack's endpoints, or undefined when none runs from this directory. */
export function runningLocalStack(dataDir = localDataDir()): StackFile | undefined {
  const path = stackFilePath(dataDir)
  if (!existsSync(path)) return undefined
  try {
    const info = StackFile.parse(JSON.parse(readFileSync(path, 'utf8')))
    return alive(info.pid) ? info : undefined
  } catch {
    return undefined
  }
}
