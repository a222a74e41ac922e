import type { Redis } from 'ioredis'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import type { Db } from '../db/pool.js'
import { pacingKeys } from './keys.js'
import { errorMessage } from '../errors.js'

export const DEFAULT_MAX_CPS = 100

/** A positive whole number of calls per second. */
export const CpsLimit = z.number().int().min(1)

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
  source: 'redis' | 'default'
  /** true when Redis could not be read and this is the last value seen (or the default) */
  stale?: boolean
}

export const LimitChange = z.object({
  actor: z.string().min(1),
  reason: z.string().min(1),
  /** what made the change: 'cli', 'auto', 'pacer', … */
  source: z.string().min(1),
})
export type LimitChange = z.infer<typeof LimitChange>

export interface LimitChangeResult {
  old: number | null
  new: number
  at: Date
}

export interface LimitStore {
  /** the live limit; Redis read at most once per `cacheMs` */
  getLimit(): Promise<LimitReading>
  /** writes Redis and the audit trail (old → new) */
  setLimit(n: number, change: LimitChange): Promise<LimitChangeResult>
}

export interface LimitStoreOptions {
  redis: Redis
  prefix?: string
  /** needed by setLimit (audit); getLimit works without it */
  db?: Db
  /** env MAX_CPS: used when Redis holds no limit */
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

export function createLimitStore(options: LimitStoreOptions): LimitStore {
  const key = pacingKeys(options.prefix).limit
  const defaultLimit = options.defaultLimit ?? DEFAULT_MAX_CPS
  CpsLimit.parse(defaultLimit)
  const cacheMs = Math.min(options.cacheMs ?? 1000, 1000)
  const nowMs = options.nowMs ?? Date.now
  let cached: { reading: LimitReading; at: number } | undefined

  return {
    async getLimit() {
      const now = nowMs()
      if (cached && now - cached.at < cacheMs) return cached.reading
      try {
        // A garbage value (someone typed `SET cps:limit abc`) falls back to the default rather
        // than stopping every dialer; `cps get` shows the source so the operator sees it.
        const stored = parseStored(await options.redis.get(key))
        const reading: LimitReading =
          stored === undefined
            ? { limit: defaultLimit, source: 'default' }
            : { limit: stored, source: 'redis' }
        cached = { reading, at: now }
        return reading
      } catch {
        // Redis down: the limiter is degraded anyway; keep the last known limit as its ceiling.
        return { ...(cached?.reading ?? { limit: defaultLimit, source: 'default' }), stale: true }
      }
    },

    async setLimit(n, change) {
      const limit = CpsLimit.safeParse(n)
      if (!limit.success) throw new Error(`limit ${n} refused: ${describeZodError(limit.error)}`)
      const who = LimitChange.safeParse(change)
      if (!who.success) throw new Error(`limit change refused: ${describeZodError(who.error)}`)
      if (!options.db) throw new Error('setLimit needs a database (db option) to record the audit trail')
      // SET … GET: the old value is read and replaced atomically, so concurrent setters each
      // record the value they actually replaced.
      const previous = await options.redis.set(key, String(limit.data), 'GET')
      const old = parseStored(previous) ?? null
      try {
        const { rows } = await options.db.query<{ at: Date }>(
          `INSERT INTO pacing_audit (actor, source, old_limit, new_limit, reason)
           VALUES ($1, $2, $3, $4, $5) RETURNING at`,
          [who.data.actor, who.data.source, old, limit.data, who.data.reason],
        )
        cached = undefined
        return { old, new: limit.data, at: rows[0]!.at }
      } catch (error) {
        // No unaudited change: put the old value back, then report.
        if (previous === null) await options.redis.del(key)
        else await options.redis.set(key, previous)
        throw new Error(
          `limit not changed: the audit row could not be written (${errorMessage(error)}); check PostgreSQL and retry`,
        )
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
