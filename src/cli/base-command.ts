import { Command, Flags, Interfaces } from '@oclif/core'
import { ExitCode } from '../exit-codes.js'
import { explainConnectionError, OperatorError } from '../errors.js'
import { maskPhonesIn } from '../observability/mask.js'
import { describeParseError } from './parse-errors.js'

type Parsed = Record<string, unknown>

/** A terminal colour sequence (ESC [ … m), from the code point so the source holds no control character. */
const ANSI_SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g')

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>

/**
 * Every dialctl command: `--json` (oclif's JSON flag: `run()`'s return value is the output),
 * the stage flags, and errors that say what happened and what to do next.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    stage: Flags.string({
      description: 'where to act: "local" (the local stack) or a deployed SST stage name',
      env: 'DIALCTL_STAGE',
      default: 'local',
      helpGroup: 'GLOBAL',
    }),
    profile: Flags.string({
      description: 'AWS profile (AWS stages only)',
      env: 'AWS_PROFILE',
      helpGroup: 'GLOBAL',
    }),
    region: Flags.string({
      description: 'AWS region (AWS stages only)',
      env: 'AWS_REGION',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>

  public override async init(): Promise<void> {
    await super.init()
    const { flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      enableJsonFlag: this.ctor.enableJsonFlag,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
  }

  /**
   * Everything oclif's parser throws is a usage error (exit 2): its own classes (unknown flag,
   * missing or unexpected argument, an option outside the list) and what the flag and argument
   * parsers throw (`cps set 2.5` → "Expected an integer"). Recognised by where it comes from, not
   * by its wording, so an oclif upgrade that rewords a message keeps the exit code.
   */
  protected override async parse<F extends Parsed, B extends Parsed, A extends Parsed>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (error) {
      const e = error as Error & { oclif?: { exit?: number } }
      e.oclif = { ...e.oclif, exit: ExitCode.Usage }
      throw e
    }
  }

  protected override async catch(
    error: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<unknown> {
    // `this.exit(n)` inside run() (e.g. exit 3 "unhealthy" after printing the result): not an
    // error to report; oclif's own catch would print an error document under --json.
    if ((error as { code?: string }).code === 'EEXIT') throw error
    const explained = error instanceof OperatorError ? error : explainConnectionError(error)
    if (explained) {
      // An error message may carry what the operator typed or a stored value: the logger's rule
      // applies here too (issue #15), so a pasted terminal or a CI log never holds a full number.
      const message = maskPhonesIn(explained.message)
      const suggestion = maskPhonesIn(explained.suggestion)
      if (this.jsonEnabled()) {
        this.logJson({ error: { code: explained.code, message, suggestion } })
      } else {
        this.logToStderr(`Error: ${message}\n  → ${suggestion}`)
      }
      this.exit(explained.exitCode)
    }
    // Usage errors were marked by parse() above.
    // A usage error a person reads: one line naming the argument or flag, and the → line (oclif's
    // own is indented, often unnamed — "Expected an integer but received: abc" — and has no next step).
    const usage = error.oclif?.exit === ExitCode.Usage
    if (usage) {
      const flagNames = Object.keys({ ...this.ctor.flags, ...(this.ctor as typeof BaseCommand).baseFlags })
      const message = maskPhonesIn(
        describeParseError(error, [...flagNames, 'json']) ?? this.describeUsageError(error.message),
      )
      if (this.jsonEnabled())
        this.logJson({ error: { code: 'USAGE', message, suggestion: this.usageHint() } })
      else this.logToStderr(`Error: ${message}\n  → ${this.usageHint()}`)
      this.exit(ExitCode.Usage)
    }
    // Under --json, a short error document and the right exit code (oclif's default dumps the
    // whole error object, config included, and exits 0 from a parse error).
    if (this.jsonEnabled()) {
      this.logJson({
        error: { code: (error as { code?: string }).code ?? 'ERROR', message: maskPhonesIn(error.message) },
      })
      this.exit(ExitCode.Error)
    }
    return super.catch(error)
  }

  /** "LIMIT: Expected an integer but received: abc" — the positional argument named when oclif did not. */
  private describeUsageError(message: string): string {
    const text = message
      // oclif colours parts of some messages (theme `dim`)
      .replace(ANSI_SGR, '')
      .replace(/See more help with --help/g, '')
      .replace(/^The following errors? occurred:/, '')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/^Parsing (--[\w-]+) /, '$1: ')
    const received = /received: (\S+)/.exec(text)?.[1]
    if (!received || /--[a-z]/.test(text)) return text
    const positional = this.argv.filter((a) => !a.startsWith('-'))
    const names = Object.keys(this.ctor.args ?? {})
    const index = positional.indexOf(received)
    const name = index >= 0 ? names[index] : undefined
    return name ? `${name.toUpperCase()}: ${text}` : text
  }

  private usageHint(): string {
    const id = (this.id ?? '').replaceAll(':', ' ')
    const example = this.ctor.examples?.[0]
    const shown =
      typeof example === 'string'
        ? example.replace('<%= config.bin %>', 'dialctl').replace('<%= command.id %>', id)
        : undefined
    return `Run \`dialctl ${id} --help\` for the arguments${shown ? `; e.g. ${shown}` : ''}.`
  }
}
