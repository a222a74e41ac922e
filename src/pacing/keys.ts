/**
 * Redis keys of the pacing state, all under one configurable prefix (tests and stages use their
 * own). `cps:limit` is what `dialctl cps set` writes and every dialer reads.
 */
export const DEFAULT_PACING_PREFIX = ''

export interface PacingKeys {
  /** the live limit (string integer); absent → env MAX_CPS */
  limit: string
  /** limiter state and the per-second admitted / rate-limited history (one hash) */
  pacer: string
  /** the last degraded-mode period a dialer reported after Redis came back (JSON) */
  degraded: string
  /** marker of a dial the worker accepted, by idempotency key */
  dialed(idempotencyKey: string): string
}

export function pacingKeys(prefix = DEFAULT_PACING_PREFIX): PacingKeys {
  return {
    limit: `${prefix}cps:limit`,
    pacer: `${prefix}cps:pacer`,
    degraded: `${prefix}cps:degraded`,
    dialed: (idempotencyKey) => `${prefix}dial:sent:${idempotencyKey}`,
  }
}

/** Seconds of per-second history the pacer hash keeps (ring buffer); `cps get` shows 60. */
export const HISTORY_BUCKETS = 128
