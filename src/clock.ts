/**
 * The one clock of the code: wall time and waiting. Code that waits or reads the time takes a
 * `Clock` (default `systemClock`) so a test can drive it; both functions read the global timers at
 * call time, so vitest's fake timers (`vi.useFakeTimers()`) control them too.
 *
 * Not for time that belongs to a store: the CPS limiter reads Redis TIME and the queues read
 * PostgreSQL's now(), so that every process agrees (see src/pacing/admit-script.ts).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
  /**
   * Resolves after `ms` milliseconds, or as soon as `signal` aborts (it resolves then too: the
   * caller checks `signal.aborted`, so a loop ends after its current step instead of unwinding with
   * an exception). At 0 or below it still yields to the event loop once (setImmediate), so
   * thousands of simulated calls interleave.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    if (signal?.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        clearImmediate(immediate)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = ms > 0 ? setTimeout(done, ms) : undefined
      const immediate = ms > 0 ? undefined : setImmediate(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  },
}

/** `systemClock.now()`: milliseconds since the Unix epoch. */
export const now = (): number => systemClock.now()

/** `systemClock.sleep()`: resolves after `ms`, or early when `signal` aborts (never rejects). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => systemClock.sleep(ms, signal)
