import { ExitCode } from './exit-codes.js'

/**
 * An error meant for the person at the terminal: what happened and what to do next.
 * Commands throw it; the base command prints both parts and exits with `exitCode`.
 */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly suggestion: string,
    readonly exitCode: number = 1,
    readonly code: string = 'OPERATOR_ERROR',
  ) {
    super(message)
    this.name = 'OperatorError'
  }
}

/**
 * A store (Redis, PostgreSQL) refused, dropped or did not answer within its bound
 * (src/stores/redis.ts, src/db/pool.ts). Exit code 3 ("unhealthy", src/exit-codes.ts): the command
 * was fine, the system is not — a runbook branches on it like on `doctor`'s verdict.
 */
export class StoreUnavailableError extends OperatorError {
  constructor(
    readonly store: 'Redis' | 'PostgreSQL',
    where: string | undefined,
    reason: string,
  ) {
    super(
      `${store} ${where ? `at ${where} ` : ''}is not available: ${reason}.`,
      store === 'Redis'
        ? `Check that it answers (redis-cli${where ? ` -u ${where}` : ''} ping) and that REDIS_URL / REDIS_HOST point at it; then run \`dialctl doctor\`.`
        : `Check that it answers (pg_isready) and that DATABASE_URL / PGHOST point at it; then run \`dialctl doctor\`.`,
      3,
      store === 'Redis' ? 'REDIS_UNAVAILABLE' : 'POSTGRES_UNAVAILABLE',
    )
    this.name = 'StoreUnavailableError'
  }
}

/** pg's messages for a connection that failed, dropped or timed out (node-postgres, pg-pool). */
const PG_CONNECTION_FAILURE =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout|terminating connection/i

/** Turns a low-level connection error into what an operator can act on. */
export function explainConnectionError(error: unknown): OperatorError | undefined {
  const e = error as { code?: string; address?: string; port?: number; message?: string }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT') {
    const where = e.address ? `${e.address}:${e.port ?? ''}` : undefined
    const store = e.port === 6379 || /redis/i.test(e.message ?? '') ? 'Redis' : 'PostgreSQL'
    return new StoreUnavailableError(store, where, `connection failed (${e.code})`)
  }
  if (e instanceof Error && PG_CONNECTION_FAILURE.test(e.message ?? ''))
    return new StoreUnavailableError('PostgreSQL', undefined, e.message)
  // undefined_table: the database answers but this schema has no dialctl tables — typically a
  // command run after `dialctl dev` stopped, without the schema it used (DATABASE_SCHEMA).
  if ((error as { code?: string } | null)?.code === '42P01')
    return operatorError(
      `The database has no dialctl tables in this schema (${e.message ?? 'undefined table'}).`,
      'Run it while `dialctl dev` is running (its .dialctl/stack.json names the schema), set DATABASE_SCHEMA to the schema the stack used, or create the tables with `dialctl db migrate`.',
      'SCHEMA_MISSING',
    )
  return undefined
}

/**
 * A request that cannot run as given — a flag, an argument or an input file is wrong: exit 2
 * (`ExitCode.Usage`), like oclif's own parse errors. `code` is the `--json` error code.
 */
export function usageError(message: string, suggestion: string, code = 'USAGE'): OperatorError {
  return new OperatorError(message, suggestion, ExitCode.Usage, code)
}

/** What happened could not be done (a peer refused, a state forbids it): exit 1 (`ExitCode.Error`). */
export function operatorError(message: string, suggestion: string, code?: string): OperatorError {
  return new OperatorError(message, suggestion, ExitCode.Error, code)
}

/** The message of anything thrown: an Error's message, a string as is, anything else as JSON. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/** Anything thrown, as an Error (for loggers and callbacks that take one); Errors pass as they are. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(errorMessage(error))
}

/**
 * Waits for `work` and ignores its failure, on purpose and on the record: `why` says why the
 * caller may go on without it (it is the reason a reader needs; `log`, if given, receives it with
 * the error, e.g. a logger's debug). Resolves to the result, or `undefined` when `work` failed.
 * Never rejects. Use it only where the failure truly changes nothing the caller must act on.
 */
export async function bestEffort<T>(
  work: Promise<T> | (() => Promise<T>),
  why: string,
  log?: (message: string, detail: { why: string; error: string }) => void,
): Promise<T | undefined> {
  try {
    return await (typeof work === 'function' ? work() : work)
  } catch (error) {
    log?.('best-effort step failed', { why, error: errorMessage(error) })
    return undefined
  }
}
