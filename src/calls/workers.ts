import { randomBytes } from 'node:crypto'
import os from 'node:os'
import type { Db } from '../db/pool.js'
import { failOpenCalls } from './recorder.js'
import { asError } from '../errors.js'

/**
 * Worker identity: every worker process and every local stack has its own id (env WORKER_ID, else
 * generated), registered in the `workers` table with a heartbeat. Recovery at start closes the open
 * calls of its own id and of ids proven dead (heartbeat older than deadAfterMs, or stopped), never
 * those of a live peer: a second `dialctl dev` on the same database leaves the first one's calls
 * alone. h4 derives the default ARI app name from the id (`dialctl-<workerId>`).
 */

export type WorkerKind = 'worker' | 'local-stack'

/** How often a live worker writes its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 5_000
/** A worker silent for this long is dead: 6 missed heartbeats, far above a GC pause or a slow query. */
export const DEAD_AFTER_MS = 30_000

/**
 * Whether a process of this host is alive (signal 0 probes without signalling). A worker on this
 * host whose pid is gone is proven dead at once — a restart after SIGKILL need not wait deadAfter.
 */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** `<kind>-<host>-<pid>-<6 hex>`: unique per process, readable in call_attempts.worker_id and logs. */
export function generateWorkerId(kind: WorkerKind): string {
  const host = os
    .hostname()
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 40)
  return `${kind}-${host}-${process.pid}-${randomBytes(3).toString('hex')}`
}

/** WORKER_ID when set (a stable id, e.g. one per ECS task), else a generated one. */
export function resolveWorkerId(kind: WorkerKind, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.WORKER_ID?.trim()
  return given ? given : generateWorkerId(kind)
}

/** Another live process holds this worker id; starting would let two processes close each other's calls. */
export class WorkerIdInUseError extends Error {
  constructor(
    readonly workerId: string,
    readonly holder: { host: string; pid: number; kind: string; heartbeatAgoSeconds: number },
  ) {
    super(
      `worker id ${workerId} is in use by ${holder.kind} pid ${holder.pid} on ${holder.host} (heartbeat ${holder.heartbeatAgoSeconds} s ago)`,
    )
  }
}

/**
 * Registers this process under `workerId`. Throws WorkerIdInUseError when another process (other
 * host or pid) holds the id with a live heartbeat: set a different WORKER_ID, or stop that one.
 */
export async function registerWorker(
  db: Db,
  workerId: string,
  kind: WorkerKind,
  options: { deadAfterMs?: number } = {},
): Promise<void> {
  const deadAfter = (options.deadAfterMs ?? DEAD_AFTER_MS) / 1000
  const host = os.hostname()
  const { rows } = await db.query<{
    registered: boolean
    host: string
    pid: number
    kind: string
    ago: number
  }>(
    `WITH up AS (
       INSERT INTO workers (worker_id, kind, host, pid) VALUES ($1, $2, $3, $4)
       ON CONFLICT (worker_id) DO UPDATE
         SET kind = excluded.kind, host = excluded.host, pid = excluded.pid,
             started_at = now(), heartbeat_at = now(), stopped_at = NULL
         WHERE workers.stopped_at IS NOT NULL
            OR workers.heartbeat_at < now() - make_interval(secs => $5)
            OR (workers.host = excluded.host AND workers.pid = excluded.pid)
       RETURNING worker_id
     )
     SELECT true AS registered, '' AS host, 0 AS pid, '' AS kind, 0 AS ago FROM up
     UNION ALL
     SELECT false, host, pid, kind, round(extract(epoch FROM now() - heartbeat_at))::int
       FROM workers WHERE worker_id = $1 AND NOT EXISTS (SELECT 1 FROM up)`,
    [workerId, kind, host, process.pid, deadAfter],
  )
  const row = rows[0]
  if (row && !row.registered && row.host === host && !processAlive(row.pid)) {
    // the holder was on this host and its process is gone (SIGKILL, crash): take the id over
    await db.query(
      `UPDATE workers SET kind = $2, host = $3, pid = $4, started_at = now(), heartbeat_at = now(), stopped_at = NULL
        WHERE worker_id = $1`,
      [workerId, kind, host, process.pid],
    )
    return
  }
  if (row && !row.registered)
    throw new WorkerIdInUseError(workerId, {
      host: row.host,
      pid: row.pid,
      kind: row.kind,
      heartbeatAgoSeconds: row.ago,
    })
}

/** Writes the heartbeat every intervalMs until the returned stop(); failures go to onError. */
export function startHeartbeat(
  db: Db,
  workerId: string,
  options: { intervalMs?: number; onError?: (error: Error) => void } = {},
): () => void {
  const timer = setInterval(() => {
    db.query('UPDATE workers SET heartbeat_at = now() WHERE worker_id = $1', [workerId]).catch(
      (error: unknown) => options.onError?.(asError(error)),
    )
  }, options.intervalMs ?? HEARTBEAT_INTERVAL_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** A clean stop: the id is free, and its calls still open (drain timeout) may be closed by others. */
export async function markWorkerStopped(db: Db, workerId: string): Promise<void> {
  await db.query('UPDATE workers SET stopped_at = now() WHERE worker_id = $1', [workerId])
}

/**
 * Start-up recovery: closes (failed, with `reason`) the calls still 'dialing' of this worker id and
 * of worker ids proven dead — stopped, heartbeat older than deadAfterMs, registered on this host
 * with a pid that no longer runs, or never registered (an older version) with calls older than
 * deadAfterMs. A live peer's calls are never touched.
 * Returns the closed call ids.
 */
export async function recoverOpenCalls(
  db: Db,
  workerId: string,
  reason: string,
  options: { deadAfterMs?: number } = {},
): Promise<{ closed: string[]; deadWorkers: string[] }> {
  const deadAfter = (options.deadAfterMs ?? DEAD_AFTER_MS) / 1000
  const { rows } = await db.query<{
    worker_id: string
    dead: boolean
    host: string | null
    pid: number | null
  }>(
    `SELECT a.worker_id, w.host, w.pid,
            bool_or(w.stopped_at IS NOT NULL
                    OR w.heartbeat_at < now() - make_interval(secs => $2)
                    OR (w.worker_id IS NULL AND a.started_at < now() - make_interval(secs => $2))) AS dead
       FROM call_attempts a
       LEFT JOIN workers w ON w.worker_id = a.worker_id
      WHERE a.status = 'dialing' AND a.worker_id IS NOT NULL AND a.worker_id <> $1
      GROUP BY a.worker_id, w.host, w.pid`,
    [workerId, deadAfter],
  )
  const here = os.hostname()
  // Dead: silent past deadAfter, stopped, or on this host with its process gone.
  const deadWorkers = rows
    .filter((r) => r.dead || (r.host === here && r.pid !== null && !processAlive(r.pid)))
    .map((r) => r.worker_id)
  const closed: string[] = []
  for (const id of [workerId, ...deadWorkers]) closed.push(...(await failOpenCalls(db, id, reason)))
  return { closed, deadWorkers }
}
