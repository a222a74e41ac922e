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

/** Turns a low-level connection error into what an operator can act on. */
export function explainConnectionError(error: unknown): OperatorError | undefined {
  const e = error as { code?: string; address?: string; port?: number; message?: string }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT') {
    const where = e.address ? `${e.address}:${e.port ?? ''}` : (e.message ?? 'the server')
    if (e.port === 6379 || /redis/i.test(e.message ?? '')) {
      return new OperatorError(
        `Redis is not reachable at ${where} (${e.code}).`,
        'Start it (redis-server --daemonize yes) or point REDIS_URL at a running Redis.',
      )
    }
    return new OperatorError(
      `PostgreSQL is not reachable at ${where} (${e.code}).`,
      'Start it (pg_ctlcluster 15 main start, or run `dialctl dev`) or point DATABASE_URL at a running PostgreSQL.',
    )
  }
  return undefined
}
