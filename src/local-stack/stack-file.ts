import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
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
