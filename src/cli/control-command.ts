import './quiet-logs.js'
import type { Command } from '@oclif/core'
import { explainAwsError } from '../control/aws-errors.js'
import { controlPlaneFor, currentActor } from '../control/index.js'
import type { ControlPlane } from '../control/port.js'
import { BaseCommand } from './base-command.js'
import { bestEffort } from '../errors.js'
import { noLocalStackError } from '../local-stack/stack-file.js'

/**
 * A command that acts on a stage through its control plane (local stack or AWS). The plane is
 * opened on first use and closed when the command ends, whatever happens.
 */
export abstract class ControlCommand<T extends typeof Command> extends BaseCommand<T> {
  private plane?: ControlPlane

  /**
   * `needsStack`: the command acts on or checks the running local stack (push, status, doctor);
   * on stage local with no stack and no stores named in the environment it stops with one line
   * saying so (NO_LOCAL_STACK), exiting `needsStack` (1 for an act, 3 for a check), instead of
   * answering for the default schema that no stack uses (issue #16).
   */
  protected async control(needsStack?: number): Promise<ControlPlane> {
    if (needsStack !== undefined && !this.plane && this.flags.stage === 'local') {
      const missing = await noLocalStackError(needsStack)
      if (missing) throw missing
    }
    return (this.plane ??= await controlPlaneFor(this.flags))
  }

  /** A spinner only for a person at a terminal: not under --json, not when stderr is piped. */
  protected spinner(): boolean {
    return !this.jsonEnabled() && Boolean(process.stderr.isTTY)
  }

  protected actor(): string {
    return currentActor()
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    return super.catch(explainAwsError(error) ?? error)
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    const plane = this.plane
    this.plane = undefined
    if (plane)
      await bestEffort(plane.close(), 'the command is done; a failed close must not change its result')
    return super.finally(error)
  }
}
