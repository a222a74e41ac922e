import type { Db } from '../db/pool.js'
import { maskPhonesIn } from '../observability/mask.js'

/**
 * The local pipe's state in PostgreSQL: operators write the desired state (`dialctl pipe stop`
 * from any terminal), the runner writes the current state, its heartbeat, errors and counters.
 */
export type DesiredState = 'RUNNING' | 'STOPPED'
export type CurrentState = 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED'

export interface PipeConfigSummary {
  source: string
  filter?: unknown
  batchSize: number
  batchWindowSeconds: number
  concurrency: number
  /** most pollers while a backlog lasts (= concurrency: fixed); absent in rows from before it */
  maxConcurrency?: number
  enrichment?: string
  target?: string
  deadLetterQueue?: string
}

export interface PipeState {
  name: string
  desiredState: DesiredState
  currentState: CurrentState
  stateReason?: string
  lastError?: string
  lastErrorAt?: Date
  config: PipeConfigSummary
  runner?: string
  heartbeatAt?: Date
  /** a runner has written its heartbeat in the last 5 s */
  runnerAlive: boolean
  updatedAt: Date
}

interface PipeRow {
  name: string
  desired_state: DesiredState
  current_state: CurrentState
  state_reason: string | null
  last_error: string | null
  last_error_at: Date | null
  config: PipeConfigSummary
  runner: string | null
  heartbeat_at: Date | null
  runner_alive: boolean
  updated_at: Date
}

const SELECT = `SELECT *, coalesce(heartbeat_at > now() - interval '5 seconds', false) AS runner_alive FROM pipes`

function toState(row: PipeRow): PipeState {
  return {
    name: row.name,
    desiredState: row.desired_state,
    currentState: row.current_state,
    ...(row.state_reason ? { stateReason: row.state_reason } : {}),
    ...(row.last_error ? { lastError: row.last_error } : {}),
    ...(row.last_error_at ? { lastErrorAt: row.last_error_at } : {}),
    config: row.config,
    ...(row.runner ? { runner: row.runner } : {}),
    ...(row.heartbeat_at ? { heartbeatAt: row.heartbeat_at } : {}),
    runnerAlive: row.runner_alive,
    updatedAt: row.updated_at,
  }
}

export class PipeNotFoundError extends Error {
  constructor(name: string) {
    super(
      `pipe "${name}" is not known here: start the local stack once (dialctl dev) to create it, or check DATABASE_URL`,
    )
    this.name = 'PipeNotFoundError'
  }
}

export async function getPipeState(db: Db, name: string): Promise<PipeState | undefined> {
  const { rows } = await db.query<PipeRow>(`${SELECT} WHERE name = $1`, [name])
  return rows[0] ? toState(rows[0]) : undefined
}

export async function listPipes(db: Db): Promise<PipeState[]> {
  const { rows } = await db.query<PipeRow>(`${SELECT} ORDER BY name`)
  return rows.map(toState)
}

/** `pipe start|stop`: the runner follows within its state-check interval (0.5 s by default). */
export async function setPipeDesiredState(
  db: Db,
  name: string,
  desired: DesiredState,
  reason?: string,
): Promise<{ previous: DesiredState; desired: DesiredState }> {
  if (desired !== 'RUNNING' && desired !== 'STOPPED')
    throw new Error(`desired state "${desired}": use RUNNING or STOPPED`)
  const { rows } = await db.query<{ previous: DesiredState }>(
    `UPDATE pipes p SET desired_state = $2, state_reason = $3, updated_at = now()
     FROM (SELECT name, desired_state AS previous FROM pipes WHERE name = $1 FOR UPDATE) old
     WHERE p.name = old.name RETURNING old.previous`,
    [name, desired, reason ?? `desired state set to ${desired}`],
  )
  if (!rows[0]) throw new PipeNotFoundError(name)
  return { previous: rows[0].previous, desired }
}

/** `pipe start|stop --wait`: resolves when the runner reports `state` (RUNNING needs a live runner). */
export async function waitForPipeState(
  db: Db,
  name: string,
  state: CurrentState,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<PipeState> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  for (;;) {
    const current = await getPipeState(db, name)
    if (!current) throw new PipeNotFoundError(name)
    if (current.currentState === state && (state !== 'RUNNING' || current.runnerAlive)) return current
    if (Date.now() >= deadline)
      throw new Error(
        `pipe "${name}" is ${current.currentState}, not ${state}, after ${options.timeoutMs ?? 10_000} ms` +
          (current.runnerAlive ? '' : ': no runner is alive — is dialctl dev running?'),
      )
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200))
  }
}

// --- runner side --------------------------------------------------------------------------------

export async function registerPipe(
  db: Db,
  name: string,
  config: PipeConfigSummary,
  runner: string,
  initialDesiredState: DesiredState = 'RUNNING',
): Promise<PipeState> {
  // An existing row keeps its desired state: a pipe stopped by an operator stays stopped across restarts.
  await db.query(
    `INSERT INTO pipes (name, desired_state, current_state, config, runner, heartbeat_at)
     VALUES ($1, $2, 'STOPPED', $3, $4, now())
     ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, runner = EXCLUDED.runner,
       heartbeat_at = now(), updated_at = now()`,
    [name, initialDesiredState, JSON.stringify(config), runner],
  )
  return (await getPipeState(db, name))!
}

/** Heartbeat + read of the desired state, in one round trip. */
export async function pipeHeartbeat(db: Db, name: string, runner: string): Promise<DesiredState | undefined> {
  const { rows } = await db.query<{ desired_state: DesiredState }>(
    'UPDATE pipes SET heartbeat_at = now(), runner = $2 WHERE name = $1 RETURNING desired_state',
    [name, runner],
  )
  return rows[0]?.desired_state
}

export async function setPipeCurrentState(
  db: Db,
  name: string,
  state: CurrentState,
  reason?: string,
  options: { clearHeartbeat?: boolean } = {},
): Promise<void> {
  await db.query(
    `UPDATE pipes SET current_state = $2, state_reason = coalesce($3, state_reason), updated_at = now()
       ${options.clearHeartbeat ? ', heartbeat_at = NULL' : ''}
     WHERE name = $1`,
    [name, state, reason ?? null],
  )
}

export async function recordPipeError(db: Db, name: string, error: unknown): Promise<void> {
  const text = maskPhonesIn(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(
    0,
    2000,
  )
  await db.query('UPDATE pipes SET last_error = $2, last_error_at = now() WHERE name = $1', [name, text])
}

export interface PipeCounters {
  executions: number
  failedExecutions: number
  messagesReceived: number
  messagesFiltered: number
  messagesDropped: number
  messagesSucceeded: number
  messagesFailed: number
  /** the target (dialer) reports: dials the worker accepted */
  tasksDialed: number
  /** the target (dialer) reports: tasks deferred because the worker answered 429 / 503 draining */
  workerDeferrals: number
}

export const ZERO_COUNTERS: PipeCounters = {
  executions: 0,
  failedExecutions: 0,
  messagesReceived: 0,
  messagesFiltered: 0,
  messagesDropped: 0,
  messagesSucceeded: 0,
  messagesFailed: 0,
  tasksDialed: 0,
  workerDeferrals: 0,
}

export async function addPipeCounters(db: Db, name: string, c: Partial<PipeCounters>): Promise<void> {
  const v = { ...ZERO_COUNTERS, ...c }
  await db.query(
    `INSERT INTO pipe_metrics (pipe, minute, executions, failed_executions, messages_received, messages_filtered,
                               messages_dropped, messages_succeeded, messages_failed, tasks_dialed, worker_deferrals)
     VALUES ($1, date_trunc('minute', now()), $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (pipe, minute) DO UPDATE SET
       executions = pipe_metrics.executions + EXCLUDED.executions,
       failed_executions = pipe_metrics.failed_executions + EXCLUDED.failed_executions,
       messages_received = pipe_metrics.messages_received + EXCLUDED.messages_received,
       messages_filtered = pipe_metrics.messages_filtered + EXCLUDED.messages_filtered,
       messages_dropped = pipe_metrics.messages_dropped + EXCLUDED.messages_dropped,
       messages_succeeded = pipe_metrics.messages_succeeded + EXCLUDED.messages_succeeded,
       messages_failed = pipe_metrics.messages_failed + EXCLUDED.messages_failed,
       tasks_dialed = pipe_metrics.tasks_dialed + EXCLUDED.tasks_dialed,
       worker_deferrals = pipe_metrics.worker_deferrals + EXCLUDED.worker_deferrals`,
    [
      name,
      v.executions,
      v.failedExecutions,
      v.messagesReceived,
      v.messagesFiltered,
      v.messagesDropped,
      v.messagesSucceeded,
      v.messagesFailed,
      v.tasksDialed,
      v.workerDeferrals,
    ],
  )
}

export interface PipeMetrics extends PipeCounters {
  sinceMinutes: number
  /** one entry per minute that had activity, oldest first */
  perMinute: (PipeCounters & { minute: Date })[]
}

/**
 * Counters of the last `sinceMinutes` minutes (the current minute included). An execution is one
 * batch handed to enrichment/target; a failed execution is one that threw (the whole batch retried).
 */
export async function pipeMetrics(db: Db, name: string, sinceMinutes = 5): Promise<PipeMetrics> {
  const { rows } = await db.query<{
    minute: Date
    executions: number
    failed_executions: number
    messages_received: number
    messages_filtered: number
    messages_dropped: number
    messages_succeeded: number
    messages_failed: number
    tasks_dialed: number
    worker_deferrals: number
  }>(
    `SELECT * FROM pipe_metrics
     WHERE pipe = $1 AND minute > date_trunc('minute', now()) - make_interval(mins => $2)
     ORDER BY minute`,
    [name, sinceMinutes],
  )
  const perMinute = rows.map((r) => ({
    minute: r.minute,
    executions: r.executions,
    failedExecutions: r.failed_executions,
    messagesReceived: r.messages_received,
    messagesFiltered: r.messages_filtered,
    messagesDropped: r.messages_dropped,
    messagesSucceeded: r.messages_succeeded,
    messagesFailed: r.messages_failed,
    tasksDialed: r.tasks_dialed,
    workerDeferrals: r.worker_deferrals,
  }))
  const total = { ...ZERO_COUNTERS }
  for (const m of perMinute)
    for (const key of Object.keys(total) as (keyof PipeCounters)[]) total[key] += m[key]
  return { sinceMinutes, ...total, perMinute }
}
