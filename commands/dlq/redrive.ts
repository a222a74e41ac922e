import { Flags, ux } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { OperatorError } from '../../src/errors.js'
import { colors } from '../../src/cli/render.js'
import type { RedriveStatus } from '../../src/control/port.js'
import { waitForRedrive } from '../../src/control/wait.js'

export interface DlqRedriveResult {
  stage: string
  redrive: RedriveStatus | null
  /** messages moved back so far (0: the DLQ was empty, nothing started) */
  redriven: number
}

export default class DlqRedrive extends ControlCommand<typeof DlqRedrive> {
  static override summary = 'Move the DLQ messages back to the dial-tasks queue'
  static override description =
    'AWS: StartMessageMoveTask from the DLQ to the source queue, progress from ListMessageMoveTasks. Local: the same move in the local queue. --status shows the latest move task without starting one.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --max-per-second 10 --wait',
    '<%= config.bin %> <%= command.id %> --status --stage prod',
  ]
  static override flags = {
    'max-per-second': Flags.integer({
      description: 'messages moved per second at most (1–500)',
      min: 1,
      max: 500,
    }),
    wait: Flags.boolean({ description: 'wait until every message is moved' }),
    'wait-timeout': Flags.integer({ description: 'seconds to wait at most', default: 900, min: 1 }),
    status: Flags.boolean({
      description: 'show the latest redrive instead of starting one',
      exclusive: ['wait'],
    }),
  }

  async run(): Promise<DlqRedriveResult> {
    const { flags } = await this.parse(DlqRedrive)
    const plane = await this.control()
    const c = colors()
    if (flags.status) {
      const status = (await plane.dlqRedriveStatus()) ?? null
      this.log(status ? describe(status) : 'No redrive has run on this DLQ.')
      return { stage: plane.stage, redrive: status, redriven: status?.moved ?? 0 }
    }
    const depth = await plane.dlqDepth()
    // A runbook step run when there is nothing to do succeeds (issue #16): nothing started.
    if (depth.visible + depth.inFlight === 0) {
      this.log('DLQ empty: nothing to redrive.')
      return { stage: plane.stage, redrive: null, redriven: 0 }
    }
    let status = await plane.dlqRedrive(
      flags['max-per-second'] ? { maxPerSecond: flags['max-per-second'] } : {},
    )
    if (flags.wait && status.status === 'RUNNING') {
      if (this.spinner()) ux.action.start('Redriving', status.status)
      try {
        status = await waitForRedrive(plane, {
          timeoutMs: flags['wait-timeout'] * 1000,
          onTick: (text) => {
            if (this.spinner()) ux.action.status = text
          },
        })
      } finally {
        if (this.spinner()) ux.action.stop(status.status)
      }
    }
    this.log(`${c.green('✓')} ${describe(status)}`)
    if (status.status === 'FAILED')
      throw new OperatorError(
        `The redrive failed: ${status.failureReason ?? 'no reason given'}.`,
        'Fix the cause, then run `dialctl dlq redrive` again (moved messages stay moved).',
        1,
        'REDRIVE_FAILED',
      )
    return { stage: plane.stage, redrive: status, redriven: status.moved }
  }
}

function describe(s: RedriveStatus): string {
  return `Redrive ${s.status}: ${s.moved}${s.toMove !== undefined ? ` of ${s.toMove}` : ''} moved${s.maxPerSecond ? ` at ≤ ${s.maxPerSecond}/s` : ''}${s.startedAt ? `, started ${s.startedAt}` : ''}${s.failureReason ? ` (${s.failureReason})` : ''}`
}
