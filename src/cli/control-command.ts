import './quiet-logs.js'
import type { Command } from '@oclif/core'
import { explainAwsError } from '../control/aws-errors.js'
import { controlPlaneFor, currentActor } from '../control/index.js'
import type { ControlPlane } from '../control/port.js'
import { BaseCommand } from './base-command.js'
import { bestEffort } from '../errors.js'

/**
 * A command that acts on a stage through its control plane (local stack or AWS). The plane is
 * opened on first use and closed when the command ends, whatever happens.
 */
export abstract class ControlCommand<T extends typeof Command> extends BaseCommand<T> {
  private plane?: ControlPlane

  protected async control(): Promise<ControlPlane> {
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
