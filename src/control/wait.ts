import { systemClock, type Clock } from '../clock.js'
import { OperatorError } from '../errors.js'
import type { ControlPlane, PipeDescription, RedriveStatus } from './port.js'

export interface WaitOptions {
  timeoutMs: number
  intervalMs?: number
  onTick?: (text: string) => void
  /** the clock the deadline and the polling interval run on (default: the system clock) */
  clock?: Clock
}

/** Polls DescribePipe (CurrentState) until the pipe reaches `target`, fails, or time runs out. */
export async function waitForPipe(
  plane: ControlPlane,
  target: 'RUNNING' | 'STOPPED',
  options: WaitOptions,
): Promise<PipeDescription> {
  const clock = options.clock ?? systemClock
  const deadline = clock.now() + options.timeoutMs
  for (;;) {
    const pipe = await plane.describePipe()
    options.onTick?.(pipe.state)
    if (pipe.state === target) return pipe
    if (pipe.state.endsWith('_FAILED'))
      throw new OperatorError(
        `The pipe went to ${pipe.state} instead of ${target}${pipe.stateReason ? `: ${pipe.stateReason}` : ''}.`,
        'Read the reason above; fix the source/target permissions or configuration, then retry.',
        1,
        'PIPE_FAILED',
      )
    if (clock.now() >= deadline)
      throw new OperatorError(
        `The pipe is still ${pipe.state} after ${Math.round(options.timeoutMs / 1000)} s (waiting for ${target}).`,
        'Check again with `dialctl pipe status`; pipes can take a few minutes to change state.',
        1,
        'TIMEOUT',
      )
    await clock.sleep(options.intervalMs ?? 2000)
  }
}

/** Polls ListMessageMoveTasks until the redrive is no longer RUNNING. */
export async function waitForRedrive(plane: ControlPlane, options: WaitOptions): Promise<RedriveStatus> {
  const clock = options.clock ?? systemClock
  const deadline = clock.now() + options.timeoutMs
  for (;;) {
    const status = await plane.dlqRedriveStatus()
    if (!status)
      throw new OperatorError('No redrive task found.', 'Start one: dialctl dlq redrive', 1, 'NOT_FOUND')
    options.onTick?.(`${status.status}: ${status.moved}/${status.toMove ?? '?'} moved`)
    if (status.status !== 'RUNNING' && status.status !== 'CANCELLING') return status
    if (clock.now() >= deadline)
      throw new OperatorError(
        `The redrive is still running after ${Math.round(options.timeoutMs / 1000)} s (${status.moved} moved).`,
        'It goes on without us; follow it with `dialctl dlq redrive --status`.',
        1,
        'TIMEOUT',
      )
    await clock.sleep(options.intervalMs ?? 2000)
  }
}
