/**
 * Slot-timed origination at the worker: a DialCommand may carry `notBefore` (epoch ms, the
 * limiter's slot on the Redis clock). The worker starts originating no earlier than that, so
 * the instants calls leave keep the limiter's spacing (≤ limit in any 1000 ms window) however the
 * dialers' POSTs bunch on the way (their wake-ups are late by different amounts).
 */

/** A slot further ahead than this is a clock problem, not pacing: wait at most this long. */
export const MAX_SLOT_WAIT_MS = 2000

export interface SlotWaitOptions {
  nowMs?: () => number
  maxWaitMs?: number
  /** for tests; default setTimeout */
  setTimer?: (fn: () => void, ms: number) => unknown
}

/** ms to wait before originating: 0 without a slot or when it has passed, at most maxWaitMs. */
export function slotWaitMs(notBefore: number | undefined, options: SlotWaitOptions = {}): number {
  if (notBefore === undefined) return 0
  const now = (options.nowMs ?? Date.now)()
  return Math.min(Math.max(0, notBefore - now), options.maxWaitMs ?? MAX_SLOT_WAIT_MS)
}

/** Resolves at the slot (see slotWaitMs); immediately when there is nothing to wait for. */
export function waitForSlot(notBefore: number | undefined, options: SlotWaitOptions = {}): Promise<void> {
  const ms = slotWaitMs(notBefore, options)
  if (ms <= 0) return Promise.resolve()
  const setTimer = options.setTimer ?? setTimeout
  return new Promise((resolve) => void setTimer(resolve, ms))
}

export interface TrunkGate {
  /**
   * Resolves when this call may start originating: at its slot (`notBefore`), and — when the
   * command says under which `limit` its slot was granted — never while `limit` calls already
   * left this worker in the last 1000 ms. Returns the instant (epoch ms) it let the call go.
   */
  pass(notBefore: number | undefined, limit: number | undefined): Promise<number>
}

/**
 * Spacing enforced where the call leaves (issue #12): timers fire late by different amounts
 * (a few ms on a busy event loop), so exact slots alone can put limit + 1 originations in a
 * 1000 ms window. The gate checks the instants calls actually left, at the moment they leave,
 * and holds a call the few ms it takes for the oldest to fall out of the window. Per worker
 * process: with several workers each keeps its own share within the limit, and the slots keep
 * the sum.
 */
export function createTrunkGate(options: { nowMs?: () => number } = {}): TrunkGate {
  const nowMs = options.nowMs ?? (() => performance.timeOrigin + performance.now())
  // instants (ms) calls left, ascending; only the last second matters
  const left: number[] = []
  return {
    async pass(notBefore, limit) {
      await waitForSlot(notBefore, { nowMs })
      for (;;) {
        const now = nowMs()
        while (left.length > 0 && left[0]! <= now - 1000) left.shift()
        if (limit === undefined || left.length < limit) {
          left.push(now)
          return now
        }
        const wait = left[left.length - limit]! + 1000 - now
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(wait))))
      }
    },
  }
}
