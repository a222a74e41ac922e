import { ux } from '@oclif/core'
import type { ControlPlane, PipeDescription } from '../control/port.js'
import { waitForPipe } from '../control/wait.js'
import { colors } from './render.js'

export interface PipeChangeResult {
  stage: string
  pipe: PipeDescription
  waited: boolean
}

export interface PipeChangeOptions {
  wait: boolean
  waitTimeoutSeconds: number
  /** show a spinner while waiting (a person at a terminal) */
  spinner: boolean
  log: (line: string) => void
}

/**
 * `pipe start` / `pipe stop`: sets the desired state and, with `wait`, polls the current state
 * until it is `target` (a *_FAILED state or the timeout is an OperatorError).
 */
export async function changePipe(
  plane: ControlPlane,
  target: 'RUNNING' | 'STOPPED',
  options: PipeChangeOptions,
): Promise<PipeChangeResult> {
  const { spinner } = options
  let pipe = target === 'RUNNING' ? await plane.startPipe() : await plane.stopPipe()
  if (options.wait && pipe.state !== target) {
    if (spinner) ux.action.start(`Waiting for ${pipe.name} to be ${target}`, pipe.state)
    try {
      pipe = await waitForPipe(plane, target, {
        timeoutMs: options.waitTimeoutSeconds * 1000,
        onTick: (state) => {
          if (spinner) ux.action.status = state
        },
      })
    } finally {
      if (spinner) ux.action.stop(pipe.state)
    }
  }
  const c = colors()
  options.log(`${c.green('✓')} ${pipe.name} on ${plane.stage}: ${pipe.state} (desired ${pipe.desiredState})`)
  return { stage: plane.stage, pipe, waited: options.wait }
}
