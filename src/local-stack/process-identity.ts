import { readFileSync } from 'node:fs'

/**
 * Who a recorded pid is now. A pid alone does not identify a process: once its owner has exited the
 * kernel hands the number to another, unrelated process, and a lock naming it would then refuse every
 * start for as long as that process lives — and advise stopping it. Linux gives each process a start
 * time that, with the pid, does identify it: field 22 of /proc/<pid>/stat (`starttime`, clock ticks
 * since boot; proc(5)). Where /proc is absent (macOS) only the pid is known.
 */

/**
 * The start time of process `pid` as /proc/<pid>/stat field 22 (clock ticks since boot, kept as
 * the decimal string the kernel wrote), or undefined where /proc is absent or the process is gone.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined // no /proc (macOS), or the process has exited: identity unknown either way
  }
  return parseStartTime(stat)
}

/**
 * Field 22 of a /proc/<pid>/stat line. Field 2 (comm) is the executable's name in parentheses and
 * may itself hold spaces and parentheses, so fields are counted from after the LAST ')': field 3
 * (state) is the first there, field 22 the twentieth. Undefined when the line does not parse.
 */
export function parseStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')')
  if (close < 0) return undefined
  const start = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/)[22 - 3]
  return start !== undefined && /^\d+$/.test(start) ? start : undefined
}

let ownStart: { value: string | undefined } | undefined

/** This process's start time (see processStartTime), read once. */
export function ownStartTime(): string | undefined {
  ownStart ??= { value: processStartTime(process.pid) }
  return ownStart.value
}

/**
 * What became of the process recorded as (`pid`, `startTime`):
 * - 'dead': no process has that pid, or one does but started at another time (the pid was reused);
 * - 'verified': that very process still runs (same pid, same start time);
 * - 'unverified': a process with that pid runs, and whether it is the recorded one cannot be told
 *   (no start time recorded, or none readable here) — callers treat it as alive, but must not
 *   advise acting on it as if it were theirs.
 */
export type Liveness = 'dead' | 'verified' | 'unverified'

export function liveness(pid: number, startTime: string | undefined): Liveness {
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: a process with that pid exists but belongs to another user
    if ((error as { code?: string }).code !== 'EPERM') return 'dead'
  }
  if (startTime === undefined) return 'unverified'
  const now = processStartTime(pid)
  if (now === undefined) return 'unverified'
  return now === startTime ? 'verified' : 'dead'
}
