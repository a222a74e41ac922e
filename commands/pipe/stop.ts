import { Flags } from '@oclif/core'
import { ux } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { colors } from '../../src/cli/render.js'
import type { PipeDescription } from '../../src/control/port.js'
import { waitForPipe } from '../../src/control/wait.js'

export interface PipeChangeResult {
  stage: string
  pipe: PipeDescription
  waited: boolean
}

export default class PipeStop extends ControlCommand<typeof PipeStop> {
  static override summary = 'Stop the pipe: messages stay in the queue until it starts again'
  static override description =
    'Sets the desired state to STOPPED. With --wait, polls the current state until it is STOPPED (or a *_FAILED state, which is an error).'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --wait --stage prod',
  ]
  static override flags = {
    wait: Flags.boolean({ description: 'wait until the pipe is STOPPED' }),
    'wait-timeout': Flags.integer({ description: 'seconds to wait at most', default: 300, min: 1 }),
  }

  async run(): Promise<PipeChangeResult> {
    const { flags } = await this.parse(PipeStop)
    const plane = await this.control()
    let pipe = await plane.stopPipe()
    if (flags.wait && pipe.state !== 'STOPPED') {
      if (this.spinner()) ux.action.start(`Waiting for ${pipe.name} to be STOPPED`, pipe.state)
      try {
        pipe = await waitForPipe(plane, 'STOPPED', {
          timeoutMs: flags['wait-timeout'] * 1000,
          onTick: (state) => {
            if (this.spinner()) ux.action.status = state
          },
        })
      } finally {
        if (this.spinner()) ux.action.stop(pipe.state)
      }
    }
    const c = colors()
    this.log(`${c.green('✓')} ${pipe.name} on ${plane.stage}: ${pipe.state} (desired ${pipe.desiredState})`)
    return { stage: plane.stage, pipe, waited: Boolean(flags.wait) }
  }
}
