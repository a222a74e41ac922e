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
   * after Redis failed, made anew for each period
   */
  fallback?: AdmissionLimiter
  /**
   * how far ahead the shared limiter grants slots (ms, default 1000: createRedisLimiter's horizon).
   * Slots it granted before failing are still dialed during that time, so the local line starts
   * after them: the transition never puts local slots into a second Redis already filled.
   */
  primaryHorizonMs?: number
  /** called once Redis answers again, with the degraded period (e.g. to record it for `cps get`) */
  onRecover?: (period: DegradedPeriod) => Promise<void>
  nowMs?: () => number
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
  let mode: 'redis' | 'degraded' = 'redis'
  let since = 0
  return {
    get mode() {
      return mode
    },
    async admit(n, limit, opts) {
      try {
        const admission = await options.primary.admit(n, limit, opts)
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
            options.fallback ?? createLocalLimiter({ lineStartsInMs: options.primaryHorizonMs ?? 1000 })
        }
        const admission: Admission = await fallback.admit(n, local, opts)
        return admission
      }
    },
  }
}
