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
