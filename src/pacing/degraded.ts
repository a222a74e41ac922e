import type { Logger } from '../observability/logger.js'
import { gcraAdmit, slotDelaysMs } from './gcra.js'
import {
  assertBatchSize,
  assertLimit,
  DEFAULT_DEFER_HORIZON_MS,
  deferDelaysMs,
  type Admission,
  type AdmissionLimiter,
} from './limiter.js'

/** Per-instance CPS when Redis is unreachable (env DEGRADED_CPS). Small on purpose: N instances → N × this. */
export const DEFAULT_DEGRADED_CPS = 5

/**
 * The same slot scheduling as the Redis script, in process memory, on the local clock.
 * `lineStartsInMs`: the first slot it may grant is that many ms after its creation (0: at once).
 */
export function createLocalLimiter(
  options: {
    horizonMs?: number
    deferHorizonMs?: number
    nowMicros?: () => number
    lineStartsInMs?: number
  } = {},
): AdmissionLimiter {
  const horizonMicros = (options.horizonMs ?? 1000) * 1000
  const deferHorizonMs = options.deferHorizonMs ?? DEFAULT_DEFER_HORIZON_MS
  const nowMicros =
    options.nowMicros ?? (() => Math.round((performance.timeOrigin + performance.now()) * 1000))
  let tat = options.lineStartsInMs ? nowMicros() + options.lineStartsInMs * 1000 : 0
  // the degraded limiter's own deferral cursor (see the Redis script's dtat)
  let dtat = 0
  return {
    async admit(n, limit, opts) {
      assertBatchSize(n)
      assertLimit(limit)
      const now = nowMicros()
      // no overtaking of a moving line: new tasks wait behind promised slots (admit-script.ts)
      const overtaking = opts?.claim === false && dtat > Math.max(tat, now) && tat >= now - horizonMicros
      const d = gcraAdmit(tat, now, overtaking ? 0 : n, limit, horizonMicros)
      tat = d.tatMicros
      const refused = n - d.admitted
      const deferStart = Math.max(dtat, tat, now)
      if (refused > 0 && opts?.promise !== false)
        dtat = Math.min(deferStart + refused * d.intervalMicros, now + deferHorizonMs * 1000)
      return {
        mode: 'degraded',
        limit,
        delaysMs: slotDelaysMs(d),
        deferDelaysMs: deferDelaysMs(refused, deferStart - now, d.intervalMicros, deferHorizonMs),
      }
    },
  }
}

export interface ResilientLimiterOptions {
  primary: AdmissionLimiter
  /** per-instance limit while Redis is unreachable; never above the live limit last seen */
  degradedCps?: number
  logger: Logger
  /**
   * the limiter for a degraded period; default: a local one whose line starts `primaryHorizonMs`
   * and one interval after Redis failed, made anew for each period
   */
  fallback?: AdmissionLimiter
  /**
   * how far ahead the shared limiter grants slots (ms, default 1000: createRedisLimiter's horizon).
   * Slots it granted before failing are still dialed during that time, so the local line starts
   * after them (one interval of the limit later); and when Redis answers again, the shared line
   * resumes one interval after the last local slot (`notBeforeMs`). Either way no 1000 ms window
   * holds more than the limit across the transition (for this instance; docs/pacing.md).
   */
  primaryHorizonMs?: number
  /** called once Redis answers again, with the degraded period (e.g. to record it for `cps get`) */
  onRecover?: (period: DegradedPeriod) => Promise<void>
  nowMs?: () => number
  /** the default local limiter's clock (µs; tests), as createLocalLimiter's `nowMicros` */
  localNowMicros?: () => number
}

export interface DegradedPeriod {
  from: string
  to: string
}

export interface ResilientLimiter extends AdmissionLimiter {
  readonly mode: 'redis' | 'degraded'
}

/**
 * The shared limiter, or — when Redis cannot be reached — a conservative local one. Never fails
 * open at full speed (the seed's scenario 4 did). Each call tries Redis first, so the dialer
 * recovers as soon as Redis answers again; each transition is logged once.
 */
export function createResilientLimiter(options: ResilientLimiterOptions): ResilientLimiter {
  const degradedCps = options.degradedCps ?? DEFAULT_DEGRADED_CPS
  assertLimit(degradedCps)
  const { logger } = options
  let fallback = options.fallback ?? createLocalLimiter()
  const nowMs = options.nowMs ?? Date.now
  const horizonMs = options.primaryHorizonMs ?? 1000
  let mode: 'redis' | 'degraded' = 'redis'
  let since = 0
  // the last slot granted locally (ms, nowMs clock): the shared line resumes one interval after it
  let localLineEndMs = 0
  return {
    get mode() {
      return mode
    },
    async admit(n, limit, opts) {
      const askedAt = nowMs()
      try {
        const floor = localLineEndMs - askedAt
        const admission = await options.primary.admit(
          n,
          limit,
          // + 1 ms: nowMs reads whole ms
          floor > 0 ? { ...opts, notBeforeMs: floor + Math.ceil(1000 / limit) + 1 } : opts,
        )
        if (mode === 'degraded') {
          const period = { from: new Date(since).toISOString(), to: new Date(nowMs()).toISOString() }
          logger.info('Redis reachable again: pacing with the shared limit', { limit, degraded: period })
          mode = 'redis'
          await options
            .onRecover?.(period)
            .catch((error: Error) =>
              logger.warn('Could not record the degraded period', { error: error.message }),
            )
        }
        return admission
      } catch (error) {
        const local = Math.min(degradedCps, limit)
        if (mode === 'redis') {
          logger.error('Redis unreachable: degraded pacing with a local limit per instance', {
            degradedCps: local,
            error: error instanceof Error ? error.message : String(error),
            nextStep: 'check REDIS_URL and the Redis server; the dialer recovers by itself when it answers',
          })
          mode = 'degraded'
          since = nowMs()
          fallback =
            // after the last slot Redis may have granted (< now + horizon) and one interval of the
            // shared limit more, as the script's missing-state pause does
            options.fallback ??
            createLocalLimiter({
              lineStartsInMs: horizonMs + Math.ceil(1000 / limit),
              ...(options.localNowMicros ? { nowMicros: options.localNowMicros } : {}),
            })
        }
        const admission: Admission = await fallback.admit(n, local, opts)
        const last = admission.delaysMs.at(-1)
        if (last !== undefined) localLineEndMs = Math.max(localLineEndMs, askedAt + last)
        return admission
      }
    },
  }
}
