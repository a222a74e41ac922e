import { handleDispatch, type DispatcherDeps, type DispatcherOutput } from './handler.js'
import { systemClock, type Clock } from '../clock.js'
import { asError, bestEffort } from '../errors.js'

export interface DispatcherLoopOptions extends DispatcherDeps {
  /** time between the end of one round and the start of the next; default 2000 ms */
  intervalMs?: number
  /** called after each round (the local stack shows it in `dialctl dev`) */
  onRound?: (output: DispatcherOutput) => void
  /** called when a round throws; the loop keeps going (the database may come back) */
  onError?: (error: Error) => void
  /** waits between rounds (default: the system clock) */
  clock?: Clock
}

export interface DispatcherLoop {
  start(): void
  /** stops the loop and resolves once it has ended (a round in progress finishes first) */
  stop(): Promise<void>
  /** one round now (also what the timer runs) */
  runOnce(): Promise<DispatcherOutput>
  readonly running: boolean
}

/**
 * The local stack's stand-in for the Step Functions loop: every active campaign, one round every
 * `intervalMs`. Rounds never overlap (the next is scheduled when one ends), so a slow database does
 * not pile rounds up.
 */
export function createDispatcherLoop(options: DispatcherLoopOptions): DispatcherLoop {
  const intervalMs = options.intervalMs ?? 2000
  const clock = options.clock ?? systemClock
  let stopping: AbortController | undefined
  let loop: Promise<void> | undefined
  let current: Promise<unknown> | undefined

  const runOnce = (): Promise<DispatcherOutput> => {
    const round = handleDispatch({}, options)
    current = bestEffort(
      round,
      'stop() only waits for the round to end; the caller of the round sees its error',
    )
    return round
  }

  const run = async (signal: AbortSignal): Promise<void> => {
    await clock.sleep(0, signal)
    while (!signal.aborted) {
      try {
        options.onRound?.(await runOnce())
      } catch (error) {
        options.logger?.error('dispatcher round failed; retrying next interval', asError(error))
        options.onError?.(asError(error))
      }
      if (!signal.aborted) await clock.sleep(intervalMs, signal)
    }
  }

  return {
    start() {
      if (stopping) return
      stopping = new AbortController()
      loop = run(stopping.signal)
    },
    async stop() {
      stopping?.abort()
      stopping = undefined
      // the loop has ended when this resolves: no round starts afterwards
      await loop
      loop = undefined
      await current
    },
    runOnce,
    get running() {
      return stopping !== undefined
    },
  }
}
