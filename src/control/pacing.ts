import type pg from 'pg'
import type { Redis } from 'ioredis'
import { readCpsHistory } from '../pacing/history.js'
import { createLimitStore, listPacingAudit, type SetLimitOptions } from '../pacing/limit-store.js'
import type { AuditEntry, PacingSnapshot } from './port.js'

/**
 * `cps get`: the live limit and its source, who controls it, the last 60 s of admissions and
 * refusals — Redis and PostgreSQL read at once, the durable state once.
 */
export async function pacingSnapshot(
  redis: Redis,
  prefix: string,
  defaultLimit: number,
  pool: pg.Pool,
): Promise<PacingSnapshot> {
  const store = createLimitStore({ redis, prefix, defaultLimit, cacheMs: 0, db: pool })
  const [{ reading, control }, history] = await Promise.all([
    store.snapshot(),
    readCpsHistory(redis, 60, { prefix }),
  ])
  // The last entry is the current, still-filling second: "now" is the last complete one.
  const complete = history.seconds.at(-2)
  return {
    limit: { limit: reading.limit, source: reading.source, defaultLimit },
    control: control
      ? {
          mode: control.mode,
          ...(control.heldBy ? { heldBy: control.heldBy } : {}),
          ...(control.heldUntil ? { heldUntil: control.heldUntil } : {}),
          ...(control.holdReason ? { holdReason: control.holdReason } : {}),
          lastChange: control.lastChange,
        }
      : { mode: 'auto', lastChange: null },
    cpsNow: complete?.admitted ?? 0,
    last60: history.seconds,
    rateLimitedShare: history.rateLimitedShare,
    // We could not read Redis ourselves: the dialers are pacing on their local limit too.
    degraded: reading.stale ?? false,
  }
}

export async function writeLimit(
  redis: Redis,
  pool: pg.Pool,
  prefix: string,
  defaultLimit: number,
  change: { limit: number; reason: string; actor: string; source?: string },
  options: SetLimitOptions = {},
): Promise<AuditEntry & { skipped?: 'held' }> {
  const store = createLimitStore({ redis, prefix, db: pool, defaultLimit, cacheMs: 0 })
  const source = change.source ?? 'cli'
  const result = await store.setLimit(
    change.limit,
    { actor: change.actor, reason: change.reason, source },
    options,
  )
  return {
    at: result.at.toISOString(),
    actor: change.actor,
    source,
    oldLimit: result.old,
    newLimit: result.new,
    reason: result.reason,
    ...(result.skipped ? { skipped: result.skipped } : {}),
  }
}

/** `cps auto --resume`: the hold ends, the adaptive pacer steers again (audited). */
export async function resumeAuto(
  redis: Redis,
  pool: pg.Pool,
  prefix: string,
  change: { reason: string; actor: string },
): Promise<boolean> {
  const store = createLimitStore({ redis, prefix, db: pool, cacheMs: 0 })
  return store.resume({ actor: change.actor, reason: change.reason, source: 'cli' })
}

export async function readLimitHistory(pool: pg.Pool, limit: number): Promise<AuditEntry[]> {
  const rows = await listPacingAudit(pool, { limit })
  return rows.map((r) => ({
    at: r.at.toISOString(),
    actor: r.actor,
    source: r.source,
    oldLimit: r.oldLimit,
    newLimit: r.newLimit,
    reason: r.reason,
  }))
}
