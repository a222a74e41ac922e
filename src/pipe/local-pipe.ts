import os from 'node:os'
import type pg from 'pg'
import { z } from 'zod'
import { sleep } from '../clock.js'
import { describeZodError } from '../contracts/errors.js'
import { createLogger, type Logger } from '../observability/logger.js'
import type { QueueMessage, QueuePort } from '../queue/port.js'
import { compileFilters } from './pattern.js'
import { Pollers } from './pollers.js'
import type { PipeRecord } from './records.js'
import { PipeBatch, type PipeEnrichment, type PipeTarget } from './batch.js'
import { PipeCounterBuffer } from './counter-buffer.js'
import {
  pipeHeartbeat,
  recordPipeError,
  registerPipe,
  setPipeCurrentState,
  type DesiredState,
  type PipeCounters,
} from './state.js'
import { bestEffort, errorMessage } from '../errors.js'
import { PIPE_BATCH_SIZE, PIPE_BATCH_WINDOW_SECONDS } from './batching.js'

export type { PipeRecord } from './records.js'

export type { BatchItemFailure, PipeEnrichment, PipeTarget, TargetResult } from './batch.js'

export interface LocalPipeOptions<E> {
  name: string
  /** for the pipe's state, counters and task outcomes */
  pool: pg.Pool
  source: QueuePort
  /** one pattern or up to 5 (ORed), EventBridge syntax on the SQS record: {"body": {...}} */
  filter?: unknown
  /** omitted: the target gets the SQS records themselves */
  enrich?: PipeEnrichment<E>
  target: PipeTarget<E>
  /** 1–10, default 10 */
  batchSize?: number
  /** seconds to gather a batch after its first message, default 5 */
  batchWindowSeconds?: number
  /** batches in flight at once, 1–10, default 2: the pollers started, and the fewest kept */
  concurrency?: number
  /** up to this many while a backlog lasts, scaled as Lambda does (src/pipe/pollers.ts); default fixed */
  maxConcurrency?: number
  /** receive visibility timeout; default the queue's own */
  visibilityTimeoutSeconds?: number
  /** failed messages come back after base × 2^(receiveCount−1) s, at most max; default 1 s … 30 s */
  retryBackoff?: { baseSeconds?: number; maxSeconds?: number }
  /** how often the runner reads the desired state and writes its heartbeat; default 500 ms */
  stateCheckIntervalMs?: number
  /** how long batch counters are coalesced before one pipe_metrics write; default 1000 ms */
  countersFlushMs?: number
  /** desired state of a pipe created by this start; an existing pipe keeps its own. Default RUNNING */
  initialDesiredState?: DesiredState
  /** names shown by `pipe status` */
  describe?: { enrichment?: string; target?: string; deadLetterQueue?: string }
  logger?: Logger
}

const Options = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1–64 characters of A-Z, a-z, 0-9, ., - or _'),
  batchSize: z.number().int().min(1).max(10),
  batchWindowSeconds: z.number().min(0).max(300),
  concurrency: z.number().int().min(1).max(10),
  // Lambda's SQS event source mapping processes at most 1,000 batches at once
  maxConcurrency: z.number().int().min(1).max(1000),
  visibilityTimeoutSeconds: z.number().min(0).max(43_200).optional(),
  baseSeconds: z.number().min(0).max(43_200),
  maxSeconds: z.number().min(0).max(43_200),
  stateCheckIntervalMs: z.number().int().min(10).max(60_000),
})

const MIN_THROTTLE_MS = 250
const MAX_THROTTLE_MS = 4000

/**
 * The local stand-in for an EventBridge Pipe: polls the source queue, batches (size or window,
 * whichever first), filters (non-matching messages deleted, recorded `filtered`), enriches
 * (dropped messages deleted), invokes the target, deletes what succeeded and leaves failures to
 * reappear with backoff until the queue's redrive policy moves them to the DLQ. A thrown
 * enrichment or target error fails the whole batch the same way (one batch's trip: batch.ts;
 * this class runs the pollers and follows the pipe's state). Follows the desired state in
 * PostgreSQL, so `dialctl pipe stop` from another process stops it within about a second.
 */
export class LocalPipe<E = PipeRecord> {
  readonly name: string
  private readonly opts: z.infer<typeof Options>
  private readonly log: Logger
  private readonly runnerId = `${os.hostname()}:${process.pid}`
  private control?: Promise<void>
  private readonly pollers: Pollers
  private readonly counters: PipeCounterBuffer
  private readonly batch: PipeBatch<E>
  private active = false
  private closing = false

  constructor(private readonly options: LocalPipeOptions<E>) {
    const parsed = Options.safeParse({
      name: options.name,
      batchSize: options.batchSize ?? PIPE_BATCH_SIZE,
      batchWindowSeconds: options.batchWindowSeconds ?? PIPE_BATCH_WINDOW_SECONDS,
      concurrency: options.concurrency ?? 2,
      maxConcurrency: Math.max(options.maxConcurrency ?? 0, options.concurrency ?? 2),
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      baseSeconds: options.retryBackoff?.baseSeconds ?? 1,
      maxSeconds: options.retryBackoff?.maxSeconds ?? 30,
      stateCheckIntervalMs: options.stateCheckIntervalMs ?? 500,
    })
    if (!parsed.success) throw new Error(`local pipe options: ${describeZodError(parsed.error)}`)
    this.opts = parsed.data
    this.name = parsed.data.name
    const filters =
      options.filter === undefined
        ? undefined
        : Array.isArray(options.filter)
          ? options.filter
          : [options.filter]
    this.log = options.logger ?? createLogger('local-pipe')
    this.counters = new PipeCounterBuffer(options.pool, this.name, options.countersFlushMs ?? 1000, (error) =>
      this.log.warn('pipe counters not recorded yet; retrying', {
        pipe: this.name,
        error: errorMessage(error),
      }),
    )
    this.batch = new PipeBatch({
      name: this.name,
      pool: options.pool,
      source: options.source,
      arn: `arn:aws:sqs:local:000000000000:${options.source.name}`,
      match: compileFilters(filters),
      ...(options.enrich ? { enrich: options.enrich } : {}),
      target: options.target,
      backoff: { baseSeconds: this.opts.baseSeconds, maxSeconds: this.opts.maxSeconds },
      counters: this.counters,
      log: this.log,
    })
    this.pollers = new Pollers({ min: this.opts.concurrency, max: this.opts.maxConcurrency }, (i) =>
      this.worker(i),
    )
  }

  /** Registers the pipe and follows its desired state until close(). */
  async start(): Promise<void> {
    if (this.control) return
    await registerPipe(
      this.options.pool,
      this.name,
      {
        source: this.options.source.name,
        ...(this.options.filter === undefined ? {} : { filter: this.options.filter }),
        batchSize: this.opts.batchSize,
        batchWindowSeconds: this.opts.batchWindowSeconds,
        concurrency: this.opts.concurrency,
        maxConcurrency: this.opts.maxConcurrency,
        ...this.options.describe,
      },
      this.runnerId,
      this.options.initialDesiredState,
    )
    this.closing = false
    await this.follow()
    this.control = this.controlLoop()
  }

  /**
   * Stops polling, lets in-flight batches finish, writes their counters, reports STOPPED.
   * The desired state is left as is.
   */
  async close(): Promise<void> {
    this.closing = true
    await this.control
    this.control = undefined
    await this.deactivate('runner shut down', true)
    await this.counters.flush()
  }

  /**
   * Counts the target reports about its own work (the dialer: dials accepted, worker deferrals),
   * written with the pipe's counters of the same minute (pipe_metrics). On AWS the dialer emits
   * the same counts as CloudWatch metrics.
   */
  addTargetCounters(counters: Partial<Pick<PipeCounters, 'tasksDialed' | 'workerDeferrals'>>): void {
    this.counters.add(counters)
  }

  /** Writes the counters of the batches finished so far (they are otherwise written within countersFlushMs). */
  flushCounters(): Promise<void> {
    return this.counters.flush()
  }

  get running(): boolean {
    return this.active
  }

  /** pollers (batches in flight at most) running now */
  get pollerCount(): number {
    return this.pollers.size
  }

  private async controlLoop(): Promise<void> {
    while (!this.closing) {
      await sleep(this.opts.stateCheckIntervalMs)
      if (this.closing) break
      try {
        await this.follow()
      } catch (error) {
        // PostgreSQL away: keep the current state and try again at the next tick
        this.log.warn('pipe state check failed', { pipe: this.name, error: errorMessage(error) })
      }
    }
  }

  private async follow(): Promise<void> {
    const desired = await pipeHeartbeat(this.options.pool, this.name, this.runnerId)
    if (desired === 'RUNNING' && !this.active) await this.activate()
    else if (desired !== 'RUNNING' && this.active) await this.deactivate('stopped by request')
  }

  private async activate(): Promise<void> {
    await setPipeCurrentState(this.options.pool, this.name, 'STARTING')
    this.active = true
    this.pollers.start()
    await setPipeCurrentState(this.options.pool, this.name, 'RUNNING', 'running')
    this.log.info('pipe running', { pipe: this.name, source: this.options.source.name })
  }

  private async deactivate(reason: string, clearHeartbeat = false): Promise<void> {
    if (this.active) {
      await bestEffort(
        setPipeCurrentState(this.options.pool, this.name, 'STOPPING'),
        'STOPPING is only shown while batches drain; stopping goes on without it',
      )
      this.active = false
      await this.pollers.drain()
      await this.counters.flush()
      this.log.info('pipe stopped', { pipe: this.name, reason })
    }
    await bestEffort(
      setPipeCurrentState(this.options.pool, this.name, 'STOPPED', reason, { clearHeartbeat }),
      'PostgreSQL may be gone; the missing heartbeat shows the runner as not alive anyway',
    )
  }

  private async worker(index: number): Promise<void> {
    // Like Lambda's SQS poller, a poller whose target keeps failing (rate-limited, worker full)
    // slows down instead of burning the messages' receive counts on retries that cannot succeed.
    let throttleMs = 0
    while (this.active) {
      try {
        const batch = await this.collect()
        if (batch.length === 0) {
          if (this.pollers.retire()) return
          continue
        }
        if (batch.length >= this.opts.batchSize) this.pollers.grow()
        const failed = await this.process(batch)
        throttleMs = failed > 0 ? Math.min(MAX_THROTTLE_MS, Math.max(MIN_THROTTLE_MS, throttleMs * 2)) : 0
        if (throttleMs > 0) await sleep(throttleMs)
      } catch (error) {
        // the queue or PostgreSQL failed: note it and back off rather than spin
        this.log.error('pipe poll failed', {
          pipe: this.name,
          worker: index,
          error: errorMessage(error),
        })
        await bestEffort(
          recordPipeError(this.options.pool, this.name, error),
          'the poll error is logged above; PostgreSQL may be the thing that failed',
        )
        await sleep(1000)
      }
    }
  }

  /**
   * Up to batchSize messages, or what arrived within the window after the first one; empty when
   * a short long-poll found nothing (the poller may then retire).
   */
  private async collect(): Promise<QueueMessage[]> {
    const messages: QueueMessage[] = []
    let windowEnd: number | undefined
    while (messages.length < this.opts.batchSize && this.active) {
      const now = Date.now()
      if (windowEnd !== undefined && now >= windowEnd) break
      // short waits, so a stop request is noticed within about half a second
      const wait = windowEnd === undefined ? 0.5 : Math.min(0.5, (windowEnd - now) / 1000)
      const got = await this.options.source.receive({
        maxMessages: this.opts.batchSize - messages.length,
        waitTimeSeconds: wait,
        ...(this.opts.visibilityTimeoutSeconds === undefined
          ? {}
          : { visibilityTimeoutSeconds: this.opts.visibilityTimeoutSeconds }),
      })
      if (got.length === 0 && windowEnd === undefined) break
      if (got.length > 0 && windowEnd === undefined)
        windowEnd = Date.now() + this.opts.batchWindowSeconds * 1000
      messages.push(...got)
    }
    return messages
  }

  /** One batch through filter → enrichment → target (src/pipe/batch.ts); returns how many messages failed. */
  process(messages: QueueMessage[]): Promise<number> {
    return this.batch.process(messages)
  }
}
