import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { operatorError } from '../errors.js'
import type { StackFile } from './stack-file-schema.js'

export type { StackFile } from './stack-file-schema.js'

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

/**
 * Before a local stack starts in `dataDir`: throws an OperatorError when stack.json belongs to a
 * live process (another `dialctl dev` here — starting would take over its file and leave every
 * command in this directory on the wrong schema/prefix, issue #16). Returns the stale file's
 * owner when one was left by a process that is gone (the new stack replaces it), else undefined.
 */
export async function claimStackFile(dataDir = localDataDir()): Promise<StaleStackFile | undefined> {
  const path = stackFilePath(dataDir)
  if (!existsSync(path)) return undefined
  const running = await runningLocalStack(dataDir)
  if (running) {
    const where = [
      `pid ${running.pid}`,
      `schema ${running.schema ?? 'public (default search_path)'}`,
      `Redis prefix ${running.redisPrefix ? JSON.stringify(running.redisPrefix) : '(none)'}`,
      `worker ${running.workerUrl}`,
      `started ${running.startedAt}`,
    ].join(', ')
    throw operatorError(
      `A local stack is already running from ${dataDir} (${where}).`,
      `Use that one (other terminals here act on it), stop it first (Ctrl-C in its terminal, or kill ${running.pid}), or run a second stack from another directory (or with DIALCTL_HOME set to another folder).`,
      'STACK_RUNNING',
    )
  }
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The running local stack's endpoints, or undefined when none runs from this directory. */
export async function runningLocalStack(dataDir = localDataDir()): Promise<StackFile | undefined> {
  const path = stackFilePath(dataDir)
  if (!existsSync(path)) return undefined
  try {
    const { StackFile } = await import('./stack-file-schema.js')
    const info = StackFile.parse(JSON.parse(readFileSync(path, 'utf8')))
    return alive(info.pid) ? info : undefined
  } catch {
    return undefined
  }
}
