import { finishOrphanCall } from '../../../src/calls/recorder.js'
import { DEAD_AFTER_MS } from '../../../src/calls/workers.js'
import type { Db } from '../../../src/db/pool.js'
import type { Logger } from '../../../src/observability/logger.js'
import type { AriDriver } from './driver.js'

/**
 * Crash recovery of live channels (#14): on every (re)connect the driver's reconcile hangs up the
 * channels that no live call owns — in this worker's Stasis app, or belonging to an open row of
 * this worker or of a worker proven dead (same rule as recoverOpenCalls: stopped, or heartbeat
 * older than DEAD_AFTER_MS; its app was `dialctl-<its id>`) — and this closes their rows with the outcome Asterisk's state implies: a channel that
 * was Up had been answered (answered, contact done: never re-dial a person because we crashed);
 * any other state failed (retried within the attempt limit).
 *
 * Call before the first reconcile (right after createAriDriver), and await
 * `driver.firstReconcile()` before failOpenCalls, so rows with a live channel get their true
 * outcome first. Used by worker/main.ts and the local stack.
 */
export function wireCrashRecovery(driver: AriDriver, db: Db, workerId: string, logger: Logger): void {
  driver.setChannelOwner((channelIds) => orphanCallIds(db, workerId, channelIds))
  driver.onOrphans(async (orphans) => {
    let answered = 0
    let closed = 0
    for (const orphan of orphans) {
      const up = orphan.state === 'Up'
      if (await finishOrphanCall(db, orphan.channelId, up)) {
        closed++
        if (up) answered++
      }
    }
    logger.warn('channels left by a previous run hung up; their calls closed', {
      channels: orphans.length,
      closed,
      answered,
    })
  })
}

/**
 * Connects, failing with what to fix when Asterisk refuses the credentials, then waits for the
 * first reconcile (bounded). Returns a warning to log when ARI could not be reached in time.
 */
export async function connectAri(
  driver: AriDriver,
  timeoutMs: number,
): Promise<{ refused?: string; warning?: string }> {
  if (!(await driver.waitConnected(timeoutMs))) {
    const refused = driver.refusal()
    if (refused) return { refused }
    return { warning: `ARI not connected after ${Math.round(timeoutMs / 1000)} s; dials get 503 until it is` }
  }
  if (!(await driver.firstReconcile(timeoutMs)))
    return { warning: 'ARI channel list not reconciled in time; orphan channels are handled when it is' }
  return {}
}

/**
 * Of `callIds` (channel ids are call ids), those whose call_attempts row is still dialing and
 * belongs to `workerId` or to a dead worker: no live process runs them. A live peer's calls are
 * never included.
 */
export async function orphanCallIds(db: Db, workerId: string, callIds: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ call_id: string }>(
    `SELECT a.call_id FROM call_attempts a
       LEFT JOIN workers w ON w.worker_id = a.worker_id
      WHERE a.status = 'dialing' AND a.call_id = ANY($2::text[])
        AND (a.worker_id = $1
             OR w.stopped_at IS NOT NULL
             OR w.heartbeat_at < now() - make_interval(secs => $3)
             OR (w.worker_id IS NULL AND a.started_at < now() - make_interval(secs => $3)))`,
    [workerId, callIds, DEAD_AFTER_MS / 1000],
  )
  return new Set(rows.map((r) => r.call_id))
}
