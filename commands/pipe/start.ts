import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { changePipe, type PipeChangeResult } from '../../src/cli/pipe-change.js'

export default class PipeStart extends ControlCommand<typeof PipeStart> {
  static override summary = 'Start the pipe: it resumes polling the queue'
  static override description =
    'Sets the desired state to RUNNING. With --wait, polls the current state until it is RUNNING (or a *_FAILED state, which is an error).'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --wait --stage prod',
  ]
  static override flags = {
    wait: Flags.boolean({ description: 'wait until the pipe is RUNNING' }),
    'wait-timeout': Flags.integer({ description: 'seconds to wait at most', default: 300, min: 1 }),
  }

  async run(): Promise<PipeChangeResult> {
    const { flags } = await this.parse(PipeStart)
    return changePipe(await this.control(), 'RUNNING', {
      wait: Boolean(flags.wait),
      waitTimeoutSeconds: flags['wait-timeout'],
      spinner: this.spinner(),
      log: (line) => this.log(line),
    })
  }
}
