import { Console } from 'node:console'
import { Writable } from 'node:stream'
import { Logger } from '@aws-lambda-powertools/logger'
import { maskPhonesIn } from './mask.js'

let destination: NodeJS.WritableStream | undefined

/** Writes to the chosen destination, else to `fallback()` looked up at write time (tests swap it). */
function forwardTo(fallback: () => NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      ;(destination ?? fallback()).write(chunk)
      done()
    },
  })
}

// One console for every logger of the process, so that a logger created at module load (before
// `dialctl dev` decides where logs go) follows the choice too. Powertools has no public option for
// its output stream; it writes through its `console` property (a node:console Console on
// stdout/stderr, or the global console under POWERTOOLS_DEV), which is what we replace.
const sharedConsole = new Console({
  stdout: forwardTo(() => process.stdout),
  stderr: forwardTo(() => process.stderr),
})

/**
 * Sends every log line of this process (INFO to ERROR alike) to `stream`, or back to
 * stdout/stderr with undefined. `dialctl dev` writes its logs to a file this way, so that they
 * never land inside its live status line.
 */
export function setLogDestination(stream: NodeJS.WritableStream | undefined): void {
  destination = stream
}

/**
 * Structured JSON logs (Powertools Logger) in the seed's shape, with a `component` key.
 * The JSON replacer masks phone numbers in every string of every log line, so a careless
 * `logger.info(\`dialing ${phone}\`)` still cannot leak a number.
 */
export function createLogger(component: string, options: { level?: string } = {}): Logger {
  const logger = new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'dialctl',
    logLevel: (options.level ??
      process.env.POWERTOOLS_LOG_LEVEL ??
      process.env.LOG_LEVEL ??
      'INFO') as 'INFO',
    persistentKeys: { component },
    jsonReplacerFn: (_key: string, value: unknown) =>
      typeof value === 'string' ? maskPhonesIn(value) : value,
  })
  if (!process.env.POWERTOOLS_DEV) (logger as unknown as { console: Console }).console = sharedConsole
  skipBelowLevel(logger)
  return logger
}

/** Powertools' LogLevelThreshold of the levels under WARN (its constants.js). */
const QUIET_LEVELS = { trace: 6, debug: 8, info: 12 } as const

/**
 * A trace / debug / info call below the logger's level returns at once. Powertools reads
 * `_X_AMZN_TRACE_ID` from the environment on every call before it compares the level (for its
 * log buffer, which createLogger never enables), and the local pipeline makes several such calls
 * per task at WARN or ERROR (issue #17). `logger.level` is the level Powertools itself compares
 * (per invocation, sampling and setLogLevel included), so what is printed does not change.
 */
function skipBelowLevel(logger: Logger): void {
  for (const [method, threshold] of Object.entries(QUIET_LEVELS)) {
    const target = logger as unknown as Record<string, (...args: unknown[]) => void>
    const log = target[method]!.bind(logger)
    target[method] = (...args: unknown[]) => {
      if (threshold >= logger.level) log(...args)
    }
  }
}

export type { Logger }
