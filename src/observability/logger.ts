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
export type QuietLevel = keyof typeof QUIET_LEVELS

/** Whether a logger of createLogger prints at a level, without reading the environment. */
const levelChecks = new WeakMap<Logger, (threshold: number) => boolean>()

/**
 * True when `logger` prints `level` lines. A caller whose context costs something to build (a
 * masked phone number, a mapped list) asks first, so nothing is built for a line that is not
 * printed (issue #17: the local pipeline runs at ERROR). A logger not made by createLogger (a
 * test's) answers true: the caller builds its context as before.
 */
export function logsAt(logger: Logger, level: QuietLevel): boolean {
  const check = levelChecks.get(logger)
  return check ? check(QUIET_LEVELS[level]) : true
}

/**
 * A trace / debug / info call below the logger's level returns at once. Powertools reads
 * `_X_AMZN_TRACE_ID` from the environment on every call before it compares the level (for its
 * log buffer, which createLogger never enables), and the local pipeline makes several such calls
 * per task at WARN or ERROR (issue #17).
 *
 * The level compared is Powertools' own (`logger.level`: sampling and setLogLevel included), kept
 * here because reading it reads the environment too (AWS_LAMBDA_MAX_CONCURRENCY, on every read).
 * Outside Lambda's concurrent mode the level is one value per logger that only setLogLevel changes
 * (debug sampling and refreshSampleRateCalculation call it too), so the copy is refreshed there.
 * In concurrent mode (that variable set, as the runtime sets it before the process starts) each
 * invocation may have its own level: it is read on every call, as Powertools does.
 */
function skipBelowLevel(logger: Logger): void {
  const target = logger as unknown as Record<string, (...args: unknown[]) => void>
  let level = logger.level
  const perInvocation = (process.env.AWS_LAMBDA_MAX_CONCURRENCY ?? '') !== ''
  const setLogLevel = target.setLogLevel!.bind(logger)
  target.setLogLevel = (...args: unknown[]) => {
    try {
      setLogLevel(...args)
    } finally {
      level = logger.level
    }
  }
  const prints = perInvocation
    ? (threshold: number) => threshold >= logger.level
    : (threshold: number) => threshold >= level
  levelChecks.set(logger, prints)
  for (const [method, threshold] of Object.entries(QUIET_LEVELS)) {
    const log = target[method]!.bind(logger)
    target[method] = (...args: unknown[]) => {
      if (prints(threshold)) log(...args)
    }
  }
}

export type { Logger }
