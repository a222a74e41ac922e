import type { StaleStackFile } from '../src/local-stack/stack-file.js'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { DispatcherLoop } from '../src/dispatch/loop.js'
import type { ServiceHandle } from '../src/local-stack/services.js'
import type { Logger } from '../src/observability/logger.js'
import type { EnrichedDialTask } from '../src/contracts/index.js'
import type { LocalPipe } from '../src/pipe/local-pipe.js'
import type { PgQueue } from '../src/queue/pg-queue.js'
import type { Tracer } from '../src/tracing/tracer.js'
import type { Worker } from '../worker/app.js'
import type { SimOptionsInput } from '../worker/drivers/sim.js'

/** What `startLocalStack` (stack.ts) takes and returns, and what its start phases share. */

/** Pipe pollers the local stack starts with (Lambda starts SQS polling with five), and the most it scales to under a backlog. */
export const DEFAULT_PIPE_POLLERS = 5
export const DEFAULT_PIPE_MAX_POLLERS = 20

/** The seed's pipe name; dialctl's local control plane looks the pipe up under it. */
export const LOCAL_PIPE_NAME = 'dial-tasks-to-dialer-worker'

export interface LocalStackOptions {
  workerPort?: number
  maxCps?: number
  batchSize?: number
  batchWindowSeconds?: number
  /** pipe pollers: fixed at this many when given; default DEFAULT_PIPE_POLLERS, scaling with the backlog */
  pipeConcurrency?: number
  /** most pipe pollers while a backlog lasts; default DEFAULT_PIPE_MAX_POLLERS (pipeConcurrency when that is given) */
  pipeMaxConcurrency?: number
  /** queue visibility timeout; failures come back after it (with backoff) */
  visibilityTimeoutSeconds?: number
  sim?: SimOptionsInput
  /**
   * `ari`: the worker calls through a real Asterisk, configured by the ARI_* variables
   * (docs/asterisk.md); default `sim`, the simulated callee
   */
  driver?: 'sim' | 'ari'
  dispatcher?: boolean
  dispatchIntervalMs?: number
  /** key prefix of the pacing state (tests isolate runs with it) */
  redisPrefix?: string
  /** PostgreSQL schema (tests isolate runs with it) */
  schema?: string
  dataDir?: string
  /** write .dialctl/stack.json so other terminals find this stack; default true */
  announce?: boolean
  maxActiveCalls?: number
  /** where to look before falling back to embedded services (tests point these at nothing) */
  fallbackFrom?: { databaseUrl?: string; redisUrl?: string }
  /** first retry delay of a failed task (doubling per receive); default 5 s */
  retryBaseSeconds?: number
  /** log level of the pipeline's components (JSON lines on stdout); default INFO */
  logLevel?: string
  /**
   * the demo prompt's media server: port (default DIALCTL_MEDIA_PORT or 7089, any free one if
   * taken), bind address (DIALCTL_MEDIA_BIND, default 127.0.0.1) and the host put in its URL
   * (DIALCTL_MEDIA_HOST: an address a real Asterisk can reach)
   */
  media?: { port?: number; host?: string; publicHost?: string }
  /** where the pipeline's logs go (recorded in stack.json for `dialctl dev --logs` and doctor) */
  logFile?: string
  /**
   * record every task's spans in PostgreSQL (trace_spans), for `dialctl trace CALL_ID`: the same
   * spans the Lambdas and the worker send to X-Ray on AWS (`dialctl dev --trace`); default off
   */
  trace?: boolean
}

export interface LocalStackStatus {
  cpsNow: number
  cpsLimit: number
  limitSource: string
  queueVisible: number
  queueInFlight: number
  dlqDepth: number
  activeCalls: number
  answered: number
  finished: number
}

export interface LocalStack {
  databaseUrl: string
  redisUrl: string
  /** PostgreSQL schema of its tables; undefined = the connection's default search_path */
  schema: string | undefined
  /** key prefix of its pacing state in Redis ("" = none) */
  redisPrefix: string
  workerUrl: string
  /** the demo prompt (8 kHz mono WAV) served by this stack */
  mediaUrl: string
  services: ServiceHandle[]
  pool: pg.Pool
  redis: Redis
  queue: PgQueue
  dlq: PgQueue
  worker: Worker
  pipe: LocalPipe<EnrichedDialTask>
  /** NO_TRACER unless started with `trace` */
  tracer: Tracer
  dispatcher?: DispatcherLoop
  demoSeeded: boolean
  /** the stack.json this start replaced, left by a stack whose process is gone (undefined: none) */
  replacedStackFile?: StaleStackFile
  status(): Promise<LocalStackStatus>
  /** stops taking work, lets in-flight batches and calls finish, closes everything */
  stop(): Promise<void>
  /**
   * The operator will not wait for `stop()` (second Ctrl-C): stops taking work, records every
   * call still open as failed with `reason` (as the next start's recovery would, so it finds
   * nothing to recover), removes stack.json and closes the stores. Returns the calls closed.
   */
  abandon(reason: string): Promise<number>
}

/** What every phase of the start shares: the options, loggers, and what to undo on failure. */
export interface StartContext {
  options: LocalStackOptions
  dataDir: string
  log: (component: string) => Logger
  logger: Logger
  services: ServiceHandle[]
  /** a stale stack.json found before the start (see claimStackFile) */
  replacedStackFile?: StaleStackFile
  /** what to undo if the start fails half-way (undone newest first) */
  undo: (() => Promise<unknown> | void)[]
}
