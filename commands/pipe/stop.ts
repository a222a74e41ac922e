import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { changePipe, type PipeChangeResult } from '../../src/cli/pipe-change.js'

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
    return changePipe(await this.control(), 'STOPPED', {
      wait: Boolean(flags.wait),
      waitTimeoutSeconds: flags['wait-timeout'],
      spinner: this.spinner(),
      log: (line) => this.log(line),
    })
  }
}
