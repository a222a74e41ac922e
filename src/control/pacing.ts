import type pg from 'pg'
import type { Redis } from 'ioredis'
import { readCpsHistory } from '../pacing/history.js'
import { createLimitStore, listPacingAudit } from '../pacing/limit-store.js'
import type { AuditEntry, PacingSnapshot } from './port.js'

/** `cps get`: the live limit and its source, the last 60 s of admissions and refusals. */
export async function pacingSnapshot(
  redis: Redis,
  prefix: string,
  defaultLimit: number,
): Promise<PacingSnapshot> {
  const store = createLimitStore({ redis, prefix, defaultLimit, cacheMs: 0 })
  const [reading, history] = await Promise.all([store.getLimit(), readCpsHistory(redis, 60, { prefix })])
  // The last entry is the current, still-filling second: "now" is the last complete one.
  const complete = history.seconds.at(-2)
  return {
    limit: { limit: reading.limit, source: reading.source, defaultLimit },
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
): Promise<AuditEntry> {
  const store = createLimitStore({ redis, prefix, db: pool, defaultLimit, cacheMs: 0 })
  const source = change.source ?? 'cli'
  const result = await store.setLimit(change.limit, { actor: change.actor, reason: change.reason, source })
  return {
    at: result.at.toISOString(),
    actor: change.actor,
    source,
    oldLimit: result.old,
    newLimit: result.new,
    reason: change.reason,
  }
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
