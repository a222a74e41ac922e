import { finishOrphanCall, openCallIdsOf } from '../../../src/calls/recorder.js'
import type { Db } from '../../../src/db/pool.js'
import type { Logger } from '../../../src/observability/logger.js'
import type { AriDriver } from './driver.js'

/**
 * Crash recovery of live channels (#14): on every (re)connect the driver's reconcile hangs up the
 * channels of this worker that no live call owns — in its Stasis app, or ringing for one of its
 * open rows — and this closes their rows with the outcome Asterisk's state implies: a channel that
 * was Up had been answered (answered, contact done: never re-dial a person because we crashed);
 * any other state failed (retried within the attempt limit).
 *
 * Call before the first reconcile (right after createAriDriver), and await
 * `driver.firstReconcile()` before failOpenCalls, so rows with a live channel get their true
 * outcome first. Used by worker/main.ts and the local stack.
 */
export function wireCrashRecovery(driver: AriDriver, db: Db, workerId: string, logger: Logger): void {
  driver.setChannelOwner((channelIds) => openCallIdsOf(db, workerId, channelIds))
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
