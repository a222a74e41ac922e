import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCommand } from '@oclif/test'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface Run<T> {
  stdout: string
  stderr: string
  result?: T
  exitCode: number
  error?: Error
}

/** Runs the built dialctl command in-process (dist/, as users run it) and captures everything. */
export async function dialctl<T = unknown>(args: string[]): Promise<Run<T>> {
  // runCommand joins and re-splits the arguments: quote the ones with spaces.
  const quoted = args.map((a) => (/\s/.test(a) ? `"${a}"` : a))
  process.exitCode = undefined
  const out = await runCommand<T>(quoted, { root: ROOT })
  const exitCode = out.error
    ? ((out.error as { oclif?: { exit?: number } }).oclif?.exit ?? 1)
    : Number(process.exitCode ?? 0)
  process.exitCode = undefined
  return {
    stdout: out.stdout,
    stderr: out.stderr,
    ...(out.result !== undefined ? { result: out.result } : {}),
    exitCode,
    ...(out.error ? { error: out.error } : {}),
  }
}

/** The JSON document a `--json` run printed: exactly one, nothing else on stdout. */
export function jsonOf(run: Run<unknown>): unknown {
  return JSON.parse(run.stdout.trim())
}

/** Replaces what changes between runs (timestamps, uuids, actors) so snapshots are stable. */
export function normalize(text: string): string {
  return text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/[ \t]+$/gm, '')
}
