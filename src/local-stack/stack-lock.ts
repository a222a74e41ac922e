import { randomUUID } from 'node:crypto'
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { operatorError, type OperatorError } from '../errors.js'
import { liveness, ownStartTime, type Liveness } from './process-identity.js'

/**
 * One owner per local-stack directory: a lock file holding the owner's pid (issue #16 — two
 * `dialctl dev` started in the same instant both passed a check-then-write on stack.json).
 *
 * Creation is atomic and never shows a half-written lock: the pid goes to a temp file of this
 * process first, which is then hard-linked to the lock's name — link(2) fails with EEXIST when any
 * lock exists, so of two starters exactly one creates it, and a reader always finds the pid in it.
 *
 * The lock names its owner by pid and start time (src/local-stack/process-identity.ts): a pid alone
 * may since have been given to an unrelated process, which would otherwise hold the directory for
 * as long as it lives. Where no start time can be read (macOS), the pid alone decides.
 *
 * A lock whose owner is dead (SIGKILL, a crash; or its pid now runs another process) is stale and
 * is taken over. Removing it must not race
 * either: a starter that read the stale pid P could otherwise delete the lock another starter has
 * just put in its place. So removal happens only under a guard `<lock>.takeover-P`, created the same
 * atomic way, and under it the lock is read again and removed only if it still names the dead P.
 * Every remover of a lock naming P holds that guard, so between the re-read and the unlink nobody
 * else can replace the file. A guard is held for a few system calls; one left by a starter that died
 * holding it is itself stale and is removed by the same rule (recursively).
 */

/**
 * What an acquire found: the lock is ours, or a live process holds it (or is taking it over).
 * `verified`: that process is the one that wrote the lock (pid and start time match); false when
 * only its pid is known to be alive — it may be an unrelated process that got the pid.
 */
export type LockAttempt = { acquired: true } | { acquired: false; holder: number; verified: boolean }

/** Attempts before giving up: each one that fails makes progress (a stale lock or guard removed). */
const MAX_ATTEMPTS = 8

/**
 * This process's mark in its locks, beside the pid: a lock naming this pid without it was left by
 * an earlier process that had the same pid (a container restarted: its processes get the same small
 * pids again) and is stale, not ours. Kept on globalThis so every copy of this module agrees.
 */
const TOKEN_KEY = Symbol.for('dialctl.stack-lock.token')
const globals = globalThis as { [TOKEN_KEY]?: string }
const processToken = (globals[TOKEN_KEY] ??= randomUUID())

/**
 * A lock's holder as read from the file: `<pid> <token> <start>`, start being /proc's start time or
 * `-` where none was readable (a lock of the first version has no third field: same as `-`).
 */
interface Holder {
  pid: number
  token: string
  start?: string
}

function alive({ pid, token, start }: Holder): Liveness {
  if (pid === process.pid) return token === processToken ? 'verified' : 'dead'
  return liveness(pid, start)
}

/** link(2) errors of a file system that has no hard links (some network, FUSE and FAT mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS'])

/** The OperatorError for a lock that cannot be created because `error` says link(2) is unsupported. */
export function explainLinkError(error: unknown, path: string): OperatorError | undefined {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !NO_HARD_LINKS.has(code)) return undefined
  return operatorError(
    `Could not create the lock ${path}: its file system does not support hard links (link failed with ${code}), which dialctl dev needs to make sure one stack at a time owns the folder.`,
    'Run dialctl dev with DIALCTL_HOME set to a folder on a local disk (e.g. DIALCTL_HOME=$HOME/.dialctl-stack dialctl dev), and export the same DIALCTL_HOME in the other terminals.',
    'LOCK_UNSUPPORTED_FS',
  )
}

/** Creates `path` naming this process, atomically; false when it already exists. */
function createExclusive(path: string): boolean {
  const temp = `${path}.${process.pid}.${process.hrtime.bigint()}.tmp`
  writeFileSync(temp, `${process.pid} ${processToken} ${ownStartTime() ?? '-'}\n`, { flag: 'wx' })
  try {
    linkSync(temp, path)
    return true
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false
    throw explainLinkError(error, path) ?? error
  } finally {
    unlinkSync(temp)
  }
}

/**
 * Who a lock names: a Holder, 'unreadable' (not a pid: edited by hand — treated as stale), or
 * 'gone' (removed since it was seen).
 */
function readHolder(path: string): Holder | 'unreadable' | 'gone' {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return 'gone'
    throw error
  }
  const [first, token = '', start = '-'] = text.trim().split(/\s+/)
  const pid = Number(first)
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'unreadable'
  return start === '-' ? { pid, token } : { pid, token, start }
}

const same = (a: Holder | 'unreadable' | 'gone', b: Holder | 'unreadable') =>
  typeof a === 'object' && typeof b === 'object'
    ? a.pid === b.pid && a.token === b.token && a.start === b.start
    : a === b

/** A live holder as an acquire reports it. */
type LiveHolder = { holder: number; verified: boolean }

/** The guard's name for removing a lock that names `stale`. */
const guardOf = (path: string, stale: Holder | 'unreadable') =>
  `${path}.takeover-${typeof stale === 'object' ? `${stale.pid}-${stale.token.replace(/[^\w-]/g, '')}` : stale}`

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error
  }
}

/**
 * Removes the lock at `path` if it still names `stale` (a dead owner, or 'unreadable'), under its
 * takeover guard. Returns the live process that is taking the same lock over right now (it will
 * own it), else undefined (removed, or replaced meanwhile: the caller tries again).
 */
function removeStale(path: string, stale: Holder | 'unreadable'): LiveHolder | undefined {
  const guard = guardOf(path, stale)
  if (!createExclusive(guard)) {
    const taker = readHolder(guard)
    const state = typeof taker === 'object' ? alive(taker) : 'dead'
    if (typeof taker === 'object' && state !== 'dead')
      return { holder: taker.pid, verified: state === 'verified' }
    if (taker !== 'gone') removeStale(guard, taker)
    return undefined
  }
  try {
    const now = readHolder(path)
    if (same(now, stale) && (now === 'unreadable' || (typeof now === 'object' && alive(now) === 'dead')))
      unlinkSync(path)
  } finally {
    unlinkIfPresent(guard)
  }
  return undefined
}

/**
 * Takes the lock at `path` for this process. Refused when a live process holds it — this one
 * included: a second stack in the same process is refused like any other. A stale lock is taken
 * over (see the file's comment). Throws an OperatorError (LOCK_UNSUPPORTED_FS) when the file
 * system has no hard links; otherwise only on a file-system error, or when MAX_ATTEMPTS rounds
 * neither acquired nor found a live holder.
 */
export function acquireLock(path: string): LockAttempt {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (createExclusive(path)) return { acquired: true }
    const holder = readHolder(path)
    if (holder === 'gone') continue // released since: try again
    const state = typeof holder === 'object' ? alive(holder) : 'dead'
    if (typeof holder === 'object' && state !== 'dead')
      return { acquired: false, holder: holder.pid, verified: state === 'verified' }
    const taker = removeStale(path, holder)
    if (taker !== undefined) return { acquired: false, ...taker }
  }
  throw new Error(`could not take the lock ${path} in ${MAX_ATTEMPTS} attempts (it kept changing hands)`)
}

/** Removes the lock at `path` when this process holds it; another holder's lock is left alone. */
export function releaseLock(path: string): void {
  const held = readHolder(path)
  if (typeof held === 'object' && held.pid === process.pid && held.token === processToken)
    unlinkIfPresent(path)
}
