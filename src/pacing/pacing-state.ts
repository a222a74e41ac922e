import type { Db } from '../db/pool.js'

/**
 * The durable pacing state in PostgreSQL (migration 0005): one `pacing_state` row per scope (the
 * Redis key prefix) with the operator's limit and hold, and the `pacing_audit` trail. SQL only;
 * the rules (holds, safety cuts, Redis after PostgreSQL) are in limit-store.ts.
 */
export interface StateRow {
  cps_limit: number
  held_by: string | null
  held_until: Date | null
  hold_reason: string | null
  changed_at: Date
  changed_by: string
  change_source: string
  change_reason: string
}

/** A hold on the limit: the adaptive pacer leaves it alone until `until` (null: until resumed). */
export interface Hold {
  by: string
  until: Date | null
  reason: string | null
}

/** The hold in force at `now` (epoch ms), or null: none set, or it ended by itself. */
export function holdInForce(row: StateRow | undefined, now: number): Hold | null {
  if (!row?.held_by) return null
  if (row.held_until !== null && row.held_until.getTime() <= now) return null
  return { by: row.held_by, until: row.held_until, reason: row.hold_reason }
}

/** The scope's row; `lock` takes it FOR UPDATE (inside a transaction). */
export async function readState(db: Db, scope: string, lock = false): Promise<StateRow | undefined> {
  const { rows } = await db.query<StateRow>(
    `SELECT cps_limit, held_by, held_until, hold_reason, changed_at, changed_by, change_source, change_reason
     FROM pacing_state WHERE scope = $1${lock ? ' FOR UPDATE' : ''}`,
    [scope],
  )
  return rows[0]
}

/** Who changed the limit, from where, and why — as written to the state and the audit. */
export interface StateChange {
  actor: string
  source: string
  reason: string
}

/** Upserts the scope's row: the limit, the hold (null: none; `since` is when it was written). */
export async function writeState(
  db: Db,
  scope: string,
  limit: number,
  hold: (Hold & { since: Date }) | null,
  change: StateChange,
): Promise<void> {
  await db.query(
    `INSERT INTO pacing_state (scope, cps_limit, held_by, held_since, held_until, hold_reason,
                               changed_at, changed_by, change_source, change_reason)
     VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9)
     ON CONFLICT (scope) DO UPDATE SET cps_limit = EXCLUDED.cps_limit, held_by = EXCLUDED.held_by,
       held_since = EXCLUDED.held_since, held_until = EXCLUDED.held_until,
       hold_reason = EXCLUDED.hold_reason, changed_at = now(), changed_by = EXCLUDED.changed_by,
       change_source = EXCLUDED.change_source, change_reason = EXCLUDED.change_reason`,
    [
      scope,
      limit,
      hold?.by ?? null,
      hold?.since ?? null,
      hold?.until ?? null,
      hold?.reason ?? null,
      change.actor,
      change.source,
      change.reason,
    ],
  )
}

/** Clears the scope's hold, recording who ended it. */
export async function clearHold(db: Db, scope: string, change: StateChange): Promise<void> {
  await db.query(
    `UPDATE pacing_state SET held_by = NULL, held_since = NULL, held_until = NULL, hold_reason = NULL,
            changed_at = now(), changed_by = $2, change_source = $3, change_reason = $4
     WHERE scope = $1`,
    [scope, change.actor, change.source, change.reason],
  )
}

/** Appends to the audit trail. @returns the row's time (PostgreSQL's clock). */
export async function appendAudit(
  db: Db,
  change: StateChange,
  oldLimit: number | null,
  newLimit: number,
): Promise<Date> {
  const { rows } = await db.query<{ at: Date }>(
    `INSERT INTO pacing_audit (actor, source, old_limit, new_limit, reason)
     VALUES ($1, $2, $3, $4, $5) RETURNING at`,
    [change.actor, change.source, oldLimit, newLimit, change.reason],
  )
  return rows[0]!.at
}

export { inTransaction } from '../db/pool.js'

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
