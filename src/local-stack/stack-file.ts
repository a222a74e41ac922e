import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { OperatorError, operatorError } from '../errors.js'
import { liveness, ownStartTime } from './process-identity.js'
import { acquireLock, releaseLock } from './stack-lock.js'
import { shownPath } from './shown-path.js'
import type { StackFile } from './stack-file-schema.js'

export type { StackFile } from './stack-file-schema.js'

export function localDataDir(cwd = process.cwd()): string {
  return process.env.DIALCTL_HOME ?? join(cwd, '.dialctl')
}

function stackFilePath(dataDir = localDataDir()): string {
  return join(dataDir, 'stack.json')
}

/**
 * Writes stack.json. When it names this process, its start time goes with the pid
 * (src/local-stack/process-identity.ts): readers must not take an unrelated process that got the
 * pid later for the stack.
 */
export function writeStackFile(info: StackFile, dataDir = localDataDir()): void {
  mkdirSync(dataDir, { recursive: true })
  const start = info.pid === process.pid ? ownStartTime() : undefined
  const file =
    start !== undefined && info.pidStartTime === undefined ? { ...info, pidStartTime: start } : info
  writeFileSync(stackFilePath(dataDir), JSON.stringify(file, null, 2) + '\n')
}

/**
 * Removes stack.json only when `ownerPid` (this process) wrote it: a second `dialctl dev` that was
 * refused, or one whose file a later stack replaced, must not take another stack's file with it.
 */
export function removeStackFile(dataDir = localDataDir(), ownerPid = process.pid): void {
  const path = stackFilePath(dataDir)
  if (!existsSync(path)) return
  try {
    if ((JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown }).pid !== ownerPid) return
  } catch {
    return // unreadable: not ours to judge; the next start replaces it
  }
  rmSync(path, { force: true })
}

/** What `claimStackFile` found in the way: a stack.json whose process is gone. */
export interface StaleStackFile {
  pid?: number
  startedAt?: string
}

/** The lock that makes one process the owner of `dataDir` (src/local-stack/stack-lock.ts). */
function stackLockPath(dataDir: string): string {
  return join(dataDir, 'stack.lock')
}

/**
 * Before a local stack starts in `dataDir`: makes this process the directory's owner, atomically
 * (stack.lock, src/local-stack/stack-lock.ts: of two `dialctl dev` started in the same instant,
 * exactly one gets it; a lock left by a dead process is taken over). Throws an OperatorError
 * (STACK_RUNNING) when a live process owns it — starting would take over its stack.json and
 * leave every command in this directory on the wrong schema/prefix (issue #16). Returns the stale
 * stack.json's owner when one was left by a process that is gone (the new stack replaces it),
 * else undefined. The owner gives the claim back with `releaseStackClaim`.
 */
export async function claimStackFile(dataDir = localDataDir()): Promise<StaleStackFile | undefined> {
  mkdirSync(dataDir, { recursive: true })
  const lockPath = stackLockPath(dataDir)
  const lock = acquireLock(lockPath)
  if (!lock.acquired)
    throw stackRunning(dataDir, await runningLocalStack(dataDir), {
      pid: lock.holder,
      verified: lock.verified,
      file: lockPath,
    })
  // The lock is ours; a stack.json of another live process is one started without the lock (an
  // older dialctl): it owns the directory all the same.
  const running = await runningLocalStack(dataDir)
  if (running && running.pid !== process.pid) {
    releaseLock(lockPath)
    const verified = liveness(running.pid, running.pidStartTime) === 'verified'
    throw stackRunning(dataDir, running, { pid: running.pid, verified, file: stackFilePath(dataDir) })
  }
  const path = stackFilePath(dataDir)
  if (!existsSync(path)) return undefined
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; startedAt?: unknown }
    return {
      ...(typeof old.pid === 'number' ? { pid: old.pid } : {}),
      ...(typeof old.startedAt === 'string' ? { startedAt: old.startedAt } : {}),
    }
  } catch {
    return {}
  }
}

/**
 * Gives back what `claimStackFile` took, when this process holds it: stack.json first, then the
 * lock — the other order would let the next owner find this stack.json while this process still
 * lives, and refuse to start.
 */
export function releaseStackClaim(dataDir = localDataDir()): void {
  removeStackFile(dataDir)
  releaseLock(stackLockPath(dataDir))
}

/**
 * Who owns a directory: `pid` as read from `file`; `verified` when its start time matched, so it is
 * the process that wrote the file and not an unrelated one that got its pid since.
 */
interface Owner {
  pid: number
  verified: boolean
  file: string
}

/**
 * How to stop the owner. `kill` is advised only for a verified owner: an unverified pid may be
 * any process (where no start time can be read, e.g. macOS), so the operator is told to check it first.
 */
function stopAdvice({ pid, verified, file }: Owner): string {
  if (verified) return `stop it first (Ctrl-C in its terminal, or kill ${pid})`
  return `stop it first: check that pid ${pid} is a dialctl dev (ps -p ${pid} -o command) and if it is, press Ctrl-C in its terminal — if it is not, its pid was reused and ${file} is stale: remove that file and start again`
}

/** The refusal to start a second stack in `dataDir`, naming the one that owns it. */
function stackRunning(dataDir: string, running: StackFile | undefined, owner: Owner): OperatorError {
  const { pid } = owner
  const info = running?.pid === pid ? running : undefined
  const where = info
    ? [
        `pid ${pid}`,
        `schema ${info.schema ?? 'public (default search_path)'}`,
        `Redis prefix ${info.redisPrefix ? JSON.stringify(info.redisPrefix) : '(none)'}`,
        `worker ${info.workerUrl}`,
        `started ${info.startedAt}`,
      ].join(', ')
    : `pid ${pid}, still starting`
  return operatorError(
    `A local stack is already running from ${dataDir} (${where}).`,
    `Use that one (other terminals here act on it), ${stopAdvice(owner)}; or run a second stack from another directory (or with DIALCTL_HOME set to another folder).`,
    'STACK_RUNNING',
  )
}

/** The running local stack's endpoints, or undefined when none runs from this directory. */
export async function runningLocalStack(dataDir = localDataDir()): Promise<StackFile | undefined> {
  const path = stackFilePath(dataDir)
  if (!existsSync(path)) return undefined
  try {
    const { StackFile } = await import('./stack-file-schema.js')
    const info = StackFile.parse(JSON.parse(readFileSync(path, 'utf8')))
    return liveness(info.pid, info.pidStartTime) === 'dead' ? undefined : info
  } catch {
    return undefined
  }
}

/** Whether the environment sets `name` (an empty value counts as unset, as a shell's `X=` means). */
const envSets = (env: NodeJS.ProcessEnv, name: string) => env[name] !== undefined && env[name] !== ''

/**
 * The PostgreSQL database and schema a local command takes from the running stack (stack.json),
 * each only where the environment names none: the stack's database unless DATABASE_URL or PGHOST
 * is set; the stack's schema unless DATABASE_SCHEMA is set — and only in the stack's own database.
 * A field left out means the caller's own default (pgSettingsFromEnv, DATABASE_SCHEMA, `public`).
 * One rule for every local command (the control plane, `db migrate`): a DATABASE_URL for another
 * database (production's, say) never gets the dev stack's schema, which `db migrate` would create
 * there; a DATABASE_SCHEMA alone is a schema of the stack's database (its PostgreSQL may be
 * embedded, on a private port).
 */
export function stackDatabase(
  running: StackFile | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { databaseUrl?: string; schema?: string } {
  if (!running || envSets(env, 'DATABASE_URL') || envSets(env, 'PGHOST')) return {}
  return {
    databaseUrl: running.databaseUrl,
    ...(!envSets(env, 'DATABASE_SCHEMA') && running.schema ? { schema: running.schema } : {}),
  }
}

/**
 * Where `dialctl db migrate` applies the migrations: stackDatabase of the stack running from
 * `dataDir`, as for every other local command. Without it, `db migrate` in a second terminal
 * created every table in `public` while the stack ran in its own schema, and said "Applied 18
 * migration(s) to schema public".
 */
export async function migrateTarget(
  dataDir = localDataDir(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ connectionString?: string; schema?: string }> {
  const { databaseUrl, schema } = stackDatabase(await runningLocalStack(dataDir), env)
  return { ...(databaseUrl ? { connectionString: databaseUrl } : {}), ...(schema ? { schema } : {}) }
}

/**
 * The environment variables that point a command at local stores itself (README "Local stack"):
 * with any of them set, a command acts where they say, stack or no stack.
 */
export const EXPLICIT_LOCAL_ENV = [
  'DATABASE_URL',
  'PGHOST',
  'DATABASE_SCHEMA',
  'REDIS_URL',
  'REDIS_HOST',
  'DIALCTL_REDIS_PREFIX',
  'DIALCTL_WORKER_URL',
] as const

/**
 * Why a command that needs the running local stack (push to local, status, doctor) cannot act, or
 * undefined when it can: a stack runs from `dataDir`, or the environment names the stores. Without
 * this, such a command fell back to the default schema and prefix and answered for data no stack
 * uses: "Sent … to stage local." with nothing running, a Health line repeating one hint (issue #16).
 * `exitCode`: 1 for a command that acts, 3 (unhealthy) for a check.
 */
export async function noLocalStackError(
  exitCode: number,
  dataDir = localDataDir(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<OperatorError | undefined> {
  if (EXPLICIT_LOCAL_ENV.some((name) => envSets(env, name))) return undefined
  if (await runningLocalStack(dataDir)) return undefined
  const file = stackFilePath(dataDir)
  const shown = shownPath(file)
  const why = existsSync(file) ? `${shown} names a stack that is no longer running` : `no ${shown}`
  return new OperatorError(
    `No local stack is running from ${dataDir === join(process.cwd(), '.dialctl') ? process.cwd() : dataDir} (${why}) — start it with \`dialctl dev\`.`,
    'Run `dialctl dev` here (other terminals then find it), or point the command at your stores with DATABASE_URL, DATABASE_SCHEMA and DIALCTL_REDIS_PREFIX.',
    exitCode,
    'NO_LOCAL_STACK',
  )
}
