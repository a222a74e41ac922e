import { handleDispatch, type DispatcherDeps, type DispatcherOutput } from './handler.js'
import { asError, bestEffort } from '../errors.js'

export interface DispatcherLoopOptions extends DispatcherDeps {
  /** time between the end of one round and the start of the next; default 2000 ms */
  intervalMs?: number
  /** called after each round (the local stack shows it in `dialctl dev`) */
  onRound?: (output: DispatcherOutput) => void
  /** called when a round throws; the loop keeps going (the database may come back) */
  onError?: (error: Error) => void
}

export interface DispatcherLoop {
  start(): void
  /** stops scheduling and waits for a round in progress to finish */
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
  let timer: NodeJS.Timeout | undefined
  let running = false
  let current: Promise<unknown> | undefined

  const runOnce = (): Promise<DispatcherOutput> => {
    const round = handleDispatch({}, options)
    current = bestEffort(
      round,
      'stop() only waits for the round to end; the caller of the round sees its error',
    )
    return round
  }

  const tick = async (): Promise<void> => {
    try {
      options.onRound?.(await runOnce())
    } catch (error) {
      options.logger?.error('dispatcher round failed; retrying next interval', asError(error))
      options.onError?.(asError(error))
    }
    if (running) timer = setTimeout(() => void tick(), intervalMs)
  }

  return {
    start() {
      if (running) return
      running = true
      timer = setTimeout(() => void tick(), 0)
    },
    async stop() {
      running = false
      if (timer) clearTimeout(timer)
      await current
    },
    runOnce,
    get running() {
      return running
    },
  }
}
