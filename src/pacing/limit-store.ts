import type { Redis } from 'ioredis'
import type pg from 'pg'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import type { Db } from '../db/pool.js'
import { pacingKeys } from './keys.js'
import { errorMessage } from '../errors.js'

export const DEFAULT_MAX_CPS = 100

/** A positive whole number of calls per second. */
export const CpsLimit = z.number().int().min(1)

/**
 * The most anyone may set (`cps set --force` included, through any stage's control API). Far
 * above any trunk (carriers sell tens to hundreds of CPS); it stops a mistyped figure — 5000
 * for 50 — that `--force` would otherwise let reach every dialer within a second.
 */
export const MAX_SETTABLE_CPS = 10_000

/** The limit `cps set` and the control API accept: one rule for both (src/control/control-api.ts). */
export const SettableCpsLimit = z
  .number({ error: 'must be a number of calls per second' })
  .int({ error: 'must be a whole number of calls per second' })
  .min(1, {
    error: 'must be at least 1 call per second (to stop dialing, pause the campaigns or stop the pipe)',
  })
  .max(MAX_SETTABLE_CPS, { error: `must be at most ${MAX_SETTABLE_CPS} calls per second` })

/** Reads an env var such as MAX_CPS / DEGRADED_CPS; unset → fallback; invalid → an error naming it. */
export function cpsFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const parsed = z.coerce.number().int().min(1).safeParse(raw)
  if (!parsed.success)
    throw new Error(`${name}=${JSON.stringify(raw)} is not a valid limit: set it to a whole number >= 1`)
  return parsed.data
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

export const LimitChange = z.object({
  actor: z.string().min(1),
  reason: z.string().min(1),
  /** what made the change: 'cli', 'auto', 'pacer', … */
  source: z.string().min(1),
})
export type LimitChange = z.infer<typeof LimitChange>

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

interface StateRow {
  cps_limit: number
  held_by: string | null
  held_until: Date | null
  hold_reason: string | null
  changed_at: Date
  changed_by: string
  change_source: string
  change_reason: string
}

function heldNow(row: StateRow | undefined, now: number): boolean {
  return Boolean(row?.held_by) && (row!.held_until === null || row!.held_until.getTime() > now)
}

export function createLimitStore(options: LimitStoreOptions): LimitStore {
  const prefix = options.prefix ?? ''
  const key = pacingKeys(prefix).limit
  const defaultLimit = options.defaultLimit ?? DEFAULT_MAX_CPS
  CpsLimit.parse(defaultLimit)
  const cacheMs = Math.min(options.cacheMs ?? 1000, 1000)
  const nowMs = options.nowMs ?? Date.now
  let cached: { reading: LimitReading; at: number } | undefined

  const needDb = (what: string): Db => {
    if (!options.db)
      throw new Error(`${what} needs a database (db option): the pacing state lives in PostgreSQL`)
    return options.db
  }

  const readState = async (db: Db, lock = false): Promise<StateRow | undefined> => {
    const { rows } = await db.query<StateRow>(
      `SELECT cps_limit, held_by, held_until, hold_reason, changed_at, changed_by, change_source, change_reason
       FROM pacing_state WHERE scope = $1${lock ? ' FOR UPDATE' : ''}`,
      [prefix],
    )
    return rows[0]
  }

  /** Redis lost the limit: the durable one, copied back (NX: a concurrent `cps set` wins). */
  const restore = async (): Promise<LimitReading> => {
    if (!options.db) return { limit: defaultLimit, source: 'default' }
    const row = await readState(options.db)
    if (!row) return { limit: defaultLimit, source: 'default' }
    await options.redis.set(key, String(row.cps_limit), 'NX')
    return { limit: row.cps_limit, source: 'postgres' }
  }

  const inTransaction = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
    const db = needDb('setLimit')
    // a pool: one client for the transaction; a client given by the caller: used as it is
    const owned = !('release' in db)
    const client: Db = owned ? await (db as pg.Pool).connect() : db
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      if (owned) (client as pg.PoolClient).release()
    }
  }

  return {
    async getLimit() {
      const now = nowMs()
      if (cached && now - cached.at < cacheMs) return cached.reading
      let stored: number | undefined
      try {
        // A garbage value (someone typed `SET cps:limit abc`) counts as missing: restored from
        // PostgreSQL, else the default; `cps get` shows the source so the operator sees it.
        stored = parseStored(await options.redis.get(key))
      } catch {
        // Redis down: the limiter is degraded anyway; keep the last known limit as its ceiling.
        return { ...(cached?.reading ?? { limit: defaultLimit, source: 'default' }), stale: true }
      }
      let reading: LimitReading
      if (stored !== undefined) reading = { limit: stored, source: 'redis' }
      else {
        try {
          reading = await restore()
        } catch {
          // Neither store can say: the last value seen, else the default, marked stale.
          return { ...(cached?.reading ?? { limit: defaultLimit, source: 'default' }), stale: true }
        }
      }
      cached = { reading, at: now }
      return reading
    },

    async setLimit(n, change, setOptions = {}) {
      const limit = CpsLimit.safeParse(n)
      if (!limit.success) throw new Error(`limit ${n} refused: ${describeZodError(limit.error)}`)
      const who = LimitChange.safeParse(change)
      if (!who.success) throw new Error(`limit change refused: ${describeZodError(who.error)}`)
      needDb('setLimit')
      const now = nowMs()
      const result = await inTransaction(async (db) => {
        const row = await readState(db, true)
        let old: number | null = row?.cps_limit ?? null
        if (!row) {
          // Set before this table existed (or only in Redis): that is the value being replaced.
          try {
            old = parseStored(await options.redis.get(key)) ?? null
          } catch {
            old = null
          }
        }
        let reason = who.data.reason
        const held = heldNow(row, now)
        if (setOptions.respectHold && held) {
          const lowering = old !== null && limit.data < old
          if (!(setOptions.respectHold.safety && lowering))
            return { old, new: old ?? limit.data, at: new Date(now), skipped: 'held' as const, reason }
          reason = `safety cut below the limit held by ${row!.held_by} (hold kept): ${reason}`
        }
        const hold = setOptions.hold
        const keepHold = held && !hold && setOptions.respectHold !== undefined
        await db.query(
          `INSERT INTO pacing_state (scope, cps_limit, held_by, held_since, held_until, hold_reason,
                                     changed_at, changed_by, change_source, change_reason)
           VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9)
           ON CONFLICT (scope) DO UPDATE SET cps_limit = EXCLUDED.cps_limit, held_by = EXCLUDED.held_by,
             held_since = EXCLUDED.held_since, held_until = EXCLUDED.held_until,
             hold_reason = EXCLUDED.hold_reason, changed_at = now(), changed_by = EXCLUDED.changed_by,
             change_source = EXCLUDED.change_source, change_reason = EXCLUDED.change_reason`,
          [
            prefix,
            limit.data,
            hold ? who.data.actor : keepHold ? row!.held_by : null,
            hold ? new Date(now) : keepHold ? new Date(now) : null,
            hold
              ? hold.untilMs === null
                ? null
                : new Date(hold.untilMs)
              : keepHold
                ? row!.held_until
                : null,
            hold ? who.data.reason : keepHold ? row!.hold_reason : null,
            who.data.actor,
            who.data.source,
            reason,
          ],
        )
        const { rows } = await db.query<{ at: Date }>(
          `INSERT INTO pacing_audit (actor, source, old_limit, new_limit, reason)
           VALUES ($1, $2, $3, $4, $5) RETURNING at`,
          [who.data.actor, who.data.source, old, limit.data, reason],
        )
        return { old, new: limit.data, at: rows[0]!.at, reason }
      }).catch((error: unknown) => {
        // PostgreSQL first: when it cannot record the change, nothing changed anywhere.
        throw new Error(
          `limit not changed: the audit row could not be written (${errorMessage(error)}); check PostgreSQL and retry`,
        )
      })
      if (result.skipped) return result
      try {
        await options.redis.set(key, String(limit.data))
      } catch (error) {
        throw new Error(
          `limit ${limit.data} saved in PostgreSQL and audited, but Redis could not be updated (${errorMessage(error)}): ` +
            'dialers keep the old limit until Redis answers; run `dialctl cps set` again then',
        )
      }
      cached = undefined
      return result
    },

    async resume(change) {
      const who = LimitChange.safeParse(change)
      if (!who.success) throw new Error(`resume refused: ${describeZodError(who.error)}`)
      return inTransaction(async (db) => {
        const row = await readState(db, true)
        if (!row?.held_by) return false
        await db.query(
          `UPDATE pacing_state SET held_by = NULL, held_since = NULL, held_until = NULL, hold_reason = NULL,
                  changed_at = now(), changed_by = $2, change_source = $3, change_reason = $4
           WHERE scope = $1`,
          [prefix, who.data.actor, who.data.source, `hold ended: ${who.data.reason}`],
        )
        await db.query(
          `INSERT INTO pacing_audit (actor, source, old_limit, new_limit, reason) VALUES ($1, $2, $3, $3, $4)`,
          [
            who.data.actor,
            who.data.source,
            row.cps_limit,
            `hold by ${row.held_by} ended: ${who.data.reason}`,
          ],
        )
        return true
      })
    },

    async control() {
      const row = await readState(needDb('control'))
      if (!row) return null
      const held = heldNow(row, nowMs())
      return {
        limit: row.cps_limit,
        mode: held ? 'held' : 'auto',
        ...(held ? { heldBy: row.held_by! } : {}),
        ...(held && row.held_until ? { heldUntil: row.held_until.toISOString() } : {}),
        ...(held && row.hold_reason ? { holdReason: row.hold_reason } : {}),
        lastChange: {
          at: row.changed_at.toISOString(),
          actor: row.changed_by,
          source: row.change_source,
          reason: row.change_reason,
        },
      }
    },
  }
}

export interface PacingAuditEntry {
  id: number
  at: Date
  actor: string
  source: string
  oldLimit: number | null
  newLimit: number
  reason: string
}

/** The audit trail, newest first (`dialctl cps history`). */
export async function listPacingAudit(db: Db, options: { limit?: number } = {}): Promise<PacingAuditEntry[]> {
  const { rows } = await db.query<{
    id: string
    at: Date
    actor: string
    source: string
    old_limit: number | null
    new_limit: number
    reason: string
  }>(
    `SELECT id, at, actor, source, old_limit, new_limit, reason
       FROM pacing_audit ORDER BY at DESC, id DESC LIMIT $1`,
    [options.limit ?? 50],
  )
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    source: r.source,
    oldLimit: r.old_limit,
    newLimit: r.new_limit,
    reason: r.reason,
  }))
}
