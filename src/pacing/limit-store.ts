import type { Redis } from 'ioredis'
import type { Db } from '../db/pool.js'
import { errorMessage, usageError } from '../errors.js'
import { pacingKeys } from './keys.js'
import {
  appendAudit,
  clearHold,
  holdInForce,
  inTransaction,
  readState,
  writeState,
  type StateRow,
} from './pacing-state.js'

export { listPacingAudit, type PacingAuditEntry } from './pacing-state.js'

// No zod in this module: `dialctl cps get` loads it at start-up, and zod alone costs it ~40 ms
// (issue #16). The edges validate with zod (SettableCpsLimit in ./settable-limit.ts, the control
// API); inside, the rule below is checked once per value.

export const DEFAULT_MAX_CPS = 100

/**
 * The most anyone may set (`cps set --force` included, through any stage's control API). Far
 * above any trunk (carriers sell tens to hundreds of CPS); it stops a mistyped figure — 5000
 * for 50 — that `--force` would otherwise let reach every dialer within a second.
 */
export const MAX_SETTABLE_CPS = 10_000

/** `cps set` refuses more than this without --force (env DIALCTL_CPS_CEILING). */
export const DEFAULT_CPS_CEILING = 500

/** The operator's ceiling: DIALCTL_CPS_CEILING, else DEFAULT_CPS_CEILING. */
export function cpsCeiling(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.DIALCTL_CPS_CEILING ?? DEFAULT_CPS_CEILING)
}

/**
 * The rule for a CPS limit: a whole number of calls per second, at least 1. Returns what is wrong
 * with `n`, or undefined when it is a limit.
 */
export function cpsLimitProblem(n: number): string | undefined {
  return Number.isInteger(n) && n >= 1 ? undefined : 'must be a whole number of calls per second, at least 1'
}

/** Reads an env var such as MAX_CPS / DEGRADED_CPS; unset → fallback; invalid → an error naming it. */
export function cpsFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const n = Number(raw)
  if (cpsLimitProblem(n) !== undefined)
    throw new Error(`${name}=${JSON.stringify(raw)} is not a valid limit: set it to a whole number >= 1`)
  return n
}

export interface LimitReading {
  limit: number
  /**
   * redis = the live copy; postgres = Redis had lost it and it was restored from the durable
   * state; default = nobody ever set one (MAX_CPS)
   */
  source: 'redis' | 'postgres' | 'default'
  /** true when a store could not be read and this is the last value seen (or the default) */
  stale?: boolean
}

/** Who changes the limit and why, as the audit trail records it: none of the three may be empty. */
export interface LimitChange {
  actor: string
  reason: string
  /** what made the change: 'cli', 'auto', 'pacer', … */
  source: string
}

/** The change, or an Error naming the empty field (`what` starts the message). */
function checkedChange(change: LimitChange, what: string): LimitChange {
  for (const field of ['actor', 'reason', 'source'] as const)
    if (typeof change[field] !== 'string' || change[field].length === 0)
      throw new Error(`${what}: ${field}: must not be empty`)
  return change
}

const holdEndRule = 'a hold must last longer than 0'

/**
 * When a hold of `durationMs` (ms) started at `now` (epoch ms) ends. The rule: a hold lasts a
 * positive time — one that has already ended would be reported as held while the pacer moves the
 * limit at once (issue #16: `cps set 30 --for 0s`). Throws an Error saying so otherwise.
 */
export function holdEnd(durationMs: number, now = Date.now()): number {
  if (!Number.isFinite(durationMs) || durationMs <= 0)
    throw new Error(`${holdEndRule} (got ${durationMs} ms)`)
  return Math.ceil(now + durationMs)
}

export interface SetLimitOptions {
  /**
   * Put the limit on hold (a manual `cps set`): the adaptive pacer leaves it alone until
   * `untilMs` (epoch ms), or until `cps auto --resume` when null.
   */
  hold?: { untilMs: number | null }
  /**
   * The adaptive pacer's write: refused while a hold is in force — except a safety cut (CPU
   * critical) that lowers the limit, which applies, keeps the hold and says so in the audit.
   */
  respectHold?: { safety: boolean }
}

export interface LimitChangeResult {
  old: number | null
  new: number
  at: Date
  /** set when respectHold refused the change: the hold in force */
  skipped?: 'held'
  /** the reason as written to the audit trail (a safety cut under a hold says so) */
  reason: string
}

/** Who controls the limit now (`cps get`, `status`). */
export interface PacingControl {
  limit: number
  mode: 'auto' | 'held'
  heldBy?: string
  /** ISO time the hold ends by itself; absent: until `cps auto --resume` */
  heldUntil?: string
  holdReason?: string
  lastChange: { at: string; actor: string; source: string; reason: string }
}

export interface LimitStore {
  /** the live limit; Redis read at most once per `cacheMs`, restored from PostgreSQL when missing */
  getLimit(): Promise<LimitReading>
  /** writes PostgreSQL (state + audit, one transaction) then Redis */
  setLimit(n: number, change: LimitChange, options?: SetLimitOptions): Promise<LimitChangeResult>
  /** ends a hold (`cps auto --resume`), audited; false when nothing was held */
  resume(change: LimitChange): Promise<boolean>
  /** the durable state; null when nobody ever set a limit */
  control(): Promise<PacingControl | null>
  /**
   * getLimit (uncached) and control() together, for `cps get`: Redis and PostgreSQL read at once,
   * and the durable state once — it both restores a lost limit and says who controls it.
   */
  snapshot(): Promise<{ reading: LimitReading; control: PacingControl | null }>
}

export interface LimitStoreOptions {
  redis: Redis
  prefix?: string
  /** the durable state; needed by setLimit/resume/control, and by getLimit to restore a lost limit */
  db?: Db
  /** env MAX_CPS: used only when nobody ever set a limit */
  defaultLimit?: number
  /** at most 1000 ms, so `cps set` takes effect within a second */
  cacheMs?: number
  nowMs?: () => number
}

function parseStored(raw: string | null): number | undefined {
  if (raw === null) return undefined
  const n = Number(raw)
  return Number.isInteger(n) && n >= 1 ? n : undefined
}

/** The live limit in Redis (cached up to a second), written behind the durable state in PostgreSQL. */
export function createLimitStore(options: LimitStoreOptions): LimitStore {
  return new RedisPgLimitStore(options)
}

class RedisPgLimitStore implements LimitStore {
  private readonly scope: string
  private readonly key: string
  private readonly defaultLimit: number
  private readonly cacheMs: number
  private readonly nowMs: () => number
  private cached: { reading: LimitReading; at: number } | undefined

  constructor(private readonly options: LimitStoreOptions) {
    this.scope = options.prefix ?? ''
    this.key = pacingKeys(this.scope).limit
    this.defaultLimit = options.defaultLimit ?? DEFAULT_MAX_CPS
    const problem = cpsLimitProblem(this.defaultLimit)
    if (problem) throw new Error(`default limit ${this.defaultLimit} ${problem}`)
    this.cacheMs = Math.min(options.cacheMs ?? 1000, 1000)
    this.nowMs = options.nowMs ?? Date.now
  }

  private needDb(what: string): Db {
    if (!this.options.db)
      throw new Error(`${what} needs a database (db option): the pacing state lives in PostgreSQL`)
    return this.options.db
  }

  /** The last value seen, else the default, marked stale: a store could not say. */
  private stale(): LimitReading {
    return { ...(this.cached?.reading ?? { limit: this.defaultLimit, source: 'default' }), stale: true }
  }

  /**
   * Redis lost the limit: the durable one (`row`, read by the caller) copied back (NX: a
   * concurrent `cps set` wins); no row: nobody ever set one, the default.
   */
  private async restoreFrom(row: StateRow | undefined): Promise<LimitReading> {
    if (!row) return { limit: this.defaultLimit, source: 'default' }
    await this.options.redis.set(this.key, String(row.cps_limit), 'NX')
    return { limit: row.cps_limit, source: 'postgres' }
  }

  /**
   * The limit in Redis; undefined when missing — a garbage value (someone typed `SET cps:limit
   * abc`) counts as missing: restored from PostgreSQL, else the default, and `cps get` shows the
   * source so the operator sees it; 'unreachable' when Redis did not answer.
   */
  private async stored(): Promise<number | undefined | 'unreachable'> {
    try {
      return parseStored(await this.options.redis.get(this.key))
    } catch {
      return 'unreachable'
    }
  }

  /** The reading for what Redis holds; `state` reads the durable row when Redis holds none. */
  private async readingOf(
    stored: number | undefined | 'unreachable',
    state: () => Promise<StateRow | undefined>,
  ): Promise<LimitReading> {
    // Redis down: the limiter is degraded anyway; keep the last known limit as its ceiling.
    if (stored === 'unreachable') return this.stale()
    if (stored !== undefined) return { limit: stored, source: 'redis' }
    try {
      return await this.restoreFrom(await state())
    } catch {
      return this.stale()
    }
  }

  async getLimit(): Promise<LimitReading> {
    const now = this.nowMs()
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.reading
    const db = this.options.db
    const reading = await this.readingOf(await this.stored(), () =>
      db ? readState(db, this.scope) : Promise.resolve(undefined),
    )
    if (!reading.stale) this.cached = { reading, at: now }
    return reading
  }

  async snapshot(): Promise<{ reading: LimitReading; control: PacingControl | null }> {
    const [stored, row] = await Promise.all([this.stored(), readState(this.needDb('snapshot'), this.scope)])
    const reading = await this.readingOf(stored, () => Promise.resolve(row))
    return { reading, control: row ? controlOf(row, this.nowMs()) : null }
  }

  /** PostgreSQL first (state + audit in one transaction), then Redis; a hold may refuse it. */
  async setLimit(
    n: number,
    change: LimitChange,
    setOptions: SetLimitOptions = {},
  ): Promise<LimitChangeResult> {
    const problem = cpsLimitProblem(n)
    if (problem) throw new Error(`limit ${n} refused: ${problem}`)
    const who = checkedChange(change, 'limit change refused')
    const db = this.needDb('setLimit')
    const now = this.nowMs()
    const untilMs = setOptions.hold?.untilMs
    if (untilMs !== undefined && untilMs !== null && untilMs <= now)
      throw usageError(
        `The hold ends at ${new Date(untilMs).toISOString()}, which is not after now (${new Date(now).toISOString()}): ${holdEndRule}.`,
        'Hold for a positive time (e.g. cps set N --reason … --for 30m), or with no end (until `cps auto --resume`).',
        'BAD_HOLD',
      )
    const result = await inTransaction(db, (tx) => this.writeChange(tx, n, who, setOptions, now)).catch(
      (error: unknown) => {
        // PostgreSQL first: when it cannot record the change, nothing changed anywhere.
        throw new Error(
          `limit not changed: the audit row could not be written (${errorMessage(error)}); check PostgreSQL and retry`,
        )
      },
    )
    if (result.skipped) return result
    try {
      await this.options.redis.set(this.key, String(n))
    } catch (error) {
      throw new Error(
        `limit ${n} saved in PostgreSQL and audited, but Redis could not be updated (${errorMessage(error)}): ` +
          'dialers keep the old limit until Redis answers; run `dialctl cps set` again then',
      )
    }
    this.cached = undefined
    return result
  }

  /** setLimit's transaction: the hold rules, then the state row and the audit row. */
  private async writeChange(
    db: Db,
    limit: number,
    who: LimitChange,
    setOptions: SetLimitOptions,
    now: number,
  ): Promise<LimitChangeResult> {
    const row = await readState(db, this.scope, true)
    // No row: set before this table existed (or only in Redis): that is the value being replaced.
    const old = row ? row.cps_limit : await this.redisLimitOrNull()
    let reason = who.reason
    const held = holdInForce(row, now)
    if (setOptions.respectHold && held) {
      const lowering = old !== null && limit < old
      if (!(setOptions.respectHold.safety && lowering))
        return { old, new: old ?? limit, at: new Date(now), skipped: 'held', reason }
      reason = `safety cut below the limit held by ${held.by} (hold kept): ${reason}`
    }
    const since = new Date(now)
    const hold = setOptions.hold
      ? {
          by: who.actor,
          since,
          until: setOptions.hold.untilMs === null ? null : new Date(setOptions.hold.untilMs),
          reason: who.reason,
        }
      : // the pacer's write (respectHold) keeps a hold in force; an operator's write ends it
        held && setOptions.respectHold !== undefined
        ? { ...held, since }
        : null
    const audited = { actor: who.actor, source: who.source, reason }
    await writeState(db, this.scope, limit, hold, audited)
    const at = await appendAudit(db, audited, old, limit)
    return { old, new: limit, at, reason }
  }

  private async redisLimitOrNull(): Promise<number | null> {
    try {
      return parseStored(await this.options.redis.get(this.key)) ?? null
    } catch {
      return null
    }
  }

  async resume(change: LimitChange): Promise<boolean> {
    const { actor, source, reason } = checkedChange(change, 'resume refused')
    return inTransaction(this.needDb('setLimit'), async (db) => {
      const row = await readState(db, this.scope, true)
      if (!row?.held_by) return false
      await clearHold(db, this.scope, { actor, source, reason: `hold ended: ${reason}` })
      await appendAudit(
        db,
        { actor, source, reason: `hold by ${row.held_by} ended: ${reason}` },
        row.cps_limit,
        row.cps_limit,
      )
      return true
    })
  }

  async control(): Promise<PacingControl | null> {
    const row = await readState(this.needDb('control'), this.scope)
    return row ? controlOf(row, this.nowMs()) : null
  }
}

/** Who controls the limit, from the durable state row at `nowMs`. */
function controlOf(row: StateRow, nowMs: number): PacingControl {
  const held = holdInForce(row, nowMs)
  return {
    limit: row.cps_limit,
    mode: held ? 'held' : 'auto',
    ...(held ? { heldBy: held.by } : {}),
    ...(held?.until ? { heldUntil: held.until.toISOString() } : {}),
    ...(held?.reason ? { holdReason: held.reason } : {}),
    lastChange: {
      at: row.changed_at.toISOString(),
      actor: row.changed_by,
      source: row.change_source,
      reason: row.change_reason,
    },
  }
}
