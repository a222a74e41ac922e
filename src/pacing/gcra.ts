/**
 * Slot scheduling (GCRA) shared by the Redis script's contract and the in-process degraded
 * limiter: admitted tasks get slots `interval = ceil(1e6 / limit)` µs apart, granted at most
 * `horizon` ahead, so no 1000 ms window ever holds more than `limit` of them.
 */
export interface GcraDecision {
  admitted: number
  /** µs from now to the first slot; the others follow every `intervalMicros` */
  firstOffsetMicros: number
  intervalMicros: number
  /** the next free slot after this decision (µs, same clock as `nowMicros`) */
  tatMicros: number
}

export function intervalMicrosFor(limit: number): number {
  return Math.ceil(1_000_000 / limit)
}

export function gcraAdmit(
  tatMicros: number,
  nowMicros: number,
  n: number,
  limit: number,
  horizonMicros: number,
): GcraDecision {
  const interval = intervalMicrosFor(limit)
  const start = Math.max(tatMicros, nowMicros)
  let k = 0
  if (n > 0 && start < nowMicros + horizonMicros) {
    k = Math.min(n, Math.ceil((nowMicros + horizonMicros - start) / interval))
  }
  return {
    admitted: k,
    firstOffsetMicros: k > 0 ? start - nowMicros : 0,
    intervalMicros: interval,
    tatMicros: k > 0 ? start + k * interval : tatMicros,
  }
}

/** Delays in ms from now for each admitted slot. */
export function slotDelaysMs(
  d: Pick<GcraDecision, 'admitted' | 'firstOffsetMicros' | 'intervalMicros'>,
): number[] {
  return Array.from({ length: d.admitted }, (_, i) => (d.firstOffsetMicros + i * d.intervalMicros) / 1000)
}
