import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import {
  markWorkerStopped,
  recoverOpenCalls,
  registerWorker,
  resolveWorkerId,
  startHeartbeat,
} from '../src/calls/workers.js'
import { createInProcessDialer, dialerDeps } from '../src/dialer/create-dialer.js'
import { deferralTiming } from '../src/dialer/admission.js'
import { PIPE_BATCH_SIZE, PIPE_BATCH_WINDOW_SECONDS } from '../src/pipe/batching.js'
import { createDispatcherLoop, type DispatcherLoop } from '../src/dispatch/loop.js'
import { createEnricher } from '../src/enrich/enrich-batch.js'
import { asError, bestEffort, errorMessage, OperatorError } from '../src/errors.js'
import { migrate } from '../src/db/migrate.js'
import { createPool } from '../src/db/pool.js'
import { createRedisClient, parseRedisUrl } from '../src/stores/redis.js'
import { createLogger, type Logger } from '../src/observability/logger.js'
import { createLimitStore, DEFAULT_MAX_CPS, type LimitStore } from '../src/pacing/limit-store.js'
import { DIAL_TASKS_FILTER } from '../src/pipe/dial-tasks-filter.js'
import { LocalPipe } from '../src/pipe/local-pipe.js'
import { pipeTargetMetrics } from '../src/pipe/target-metrics.js'
import { recordDeadLetteredTasks } from '../src/outcomes/dead-letter.js'
import { ensureLocalQueues } from '../src/queue/pg-queue.js'
import { createWorker } from '../worker/app.js'
import { SimDriver } from '../worker/drivers/sim.js'
import {
  ariConfigFromEnv,
  connectAri,
  createAriDriver,
  wireCrashRecovery,
} from '../worker/drivers/ari/index.js'
import type { TelephonyDriver } from '../src/telephony/driver.js'
import type { EnrichedDialTask } from '../src/contracts/index.js'
import { seedDemoCampaign } from '../src/local-stack/demo.js'
import { startMediaServer } from '../src/local-stack/demo-audio.js'
import { ensurePostgres, ensureRedis } from '../src/local-stack/services.js'
import {
  claimStackFile,
  localDataDir,
  releaseStackClaim,
  writeStackFile,
} from '../src/local-stack/stack-file.js'
import { createPgSpanSink } from '../src/tracing/pg-sink.js'
import { stampingQueue } from '../src/tracing/stamp.js'
import { createTracer, NO_TRACER, type Tracer } from '../src/tracing/tracer.js'
import { stackHandle, stopServices } from './stack-handle.js'
import {
  DEFAULT_PIPE_MAX_POLLERS,
  DEFAULT_PIPE_POLLERS,
  LOCAL_PIPE_NAME,
  type LocalStack,
  type LocalStackOptions,
  type StartContext,
} from './stack-options.js'

export {
  DEFAULT_PIPE_MAX_POLLERS,
  DEFAULT_PIPE_POLLERS,
  LOCAL_PIPE_NAME,
  type LocalStack,
  type LocalStackOptions,
  type LocalStackStatus,
} from './stack-options.js'

/**
 * The pipe's pollers, scaling as Lambda's SQS poller does for the dialer on AWS
 * (src/pipe/pollers.ts): a backlog at a high limit needs more batches in flight, since each lasts
 * until its last slot. A given pipeConcurrency alone fixes them.
 */
function pipePollers(options: LocalStackOptions): { concurrency: number; maxConcurrency: number } {
  return {
    concurrency: options.pipeConcurrency ?? DEFAULT_PIPE_POLLERS,
    maxConcurrency: options.pipeMaxConcurrency ?? options.pipeConcurrency ?? DEFAULT_PIPE_MAX_POLLERS,
  }
}

/**
 * `dialctl dev --trace`: each task's spans into PostgreSQL (trace_spans, read by `dialctl trace`),
 * exported every 250 ms; NO_TRACER otherwise, so the pipeline pays nothing for tracing.
 */
function localTracer(on: boolean | undefined, pool: pg.Pool, logger: Logger): Tracer {
  if (!on) return NO_TRACER
  return createTracer({
    sink: createPgSpanSink(pool),
    flushEveryMs: 250,
    onExportError: (error) => logger.warn('spans not recorded', { error: errorMessage(error) }),
  })
}

/**
 * Phase 1: PostgreSQL and Redis (found or embedded), migrated; one pool, the dialer's Redis client,
 * the tracer (`trace`) and the local queue with its DLQ.
 */
async function startStores(ctx: StartContext) {
  const { options } = ctx
  const postgres = await ensurePostgres(ctx.dataDir, { defaultUrl: options.fallbackFrom?.databaseUrl })
  ctx.services.push(postgres)
  const redisService = await ensureRedis({ defaultUrl: options.fallbackFrom?.redisUrl })
  ctx.services.push(redisService)
  const schema = options.schema ?? process.env.DATABASE_SCHEMA
  await migrate({ connectionString: postgres.url, ...(schema ? { schema } : {}) })
  // One pool for every component: an embedded PostgreSQL serves few connections well.
  const pool = createPool({ connectionString: postgres.url, ...(schema ? { schema } : {}), max: 10 })
  // The dialer's role, as in the Lambda: a frozen Redis fails commands within a second, so the
  // limiter enters its degraded mode; its errors are reported by that mode, not per reconnect.
  const redis = createRedisClient(parseRedisUrl(redisService.url), { role: 'dialer' })
  ctx.undo.push(
    () => pool.end(),
    () => redis.disconnect(),
  )
  const tracer = localTracer(options.trace, pool, ctx.logger)
  ctx.undo.push(() => tracer.close())
  const { queue, dlq } = await ensureLocalQueues(pool, {
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
    onDeadLetter: recordDeadLetteredTasks,
  })
  const prefix = options.redisPrefix ?? process.env.DIALCTL_REDIS_PREFIX ?? ''
  const maxCps = options.maxCps ?? Number(process.env.MAX_CPS ?? DEFAULT_MAX_CPS)
  return { postgres, redisService, schema, pool, redis, tracer, queue, dlq, prefix, maxCps }
}
export type Stores = Awaited<ReturnType<typeof startStores>>

/** Phase 2: the demo prompt's media server and the demo campaign that plays it. */
async function startMedia(ctx: StartContext, pool: pg.Pool) {
  const { options } = ctx
  const envPort = process.env.DIALCTL_MEDIA_PORT ? Number(process.env.DIALCTL_MEDIA_PORT) : undefined
  const publicHost = options.media?.publicHost ?? process.env.DIALCTL_MEDIA_HOST
  const media = await startMediaServer({
    port: options.media?.port ?? envPort,
    host: options.media?.host ?? process.env.DIALCTL_MEDIA_BIND ?? '127.0.0.1',
    ...(publicHost ? { publicHost } : {}),
  })
  ctx.undo.push(() => media.close())
  const demoSeeded = await seedDemoCampaign(pool, media.audioUrl)
  return { media, demoSeeded }
}

/**
 * Phase 3: this stack's worker id with a heartbeat. A previous run killed mid-call left its calls
 * 'dialing'; recovery (phase 5) closes only this stack's and those of workers proven dead, so a
 * second `dialctl dev` on this database leaves a running one's calls alone.
 */
async function registerStackWorker(ctx: StartContext, pool: pg.Pool) {
  const workerId = resolveWorkerId('local-stack')
  await registerWorker(pool, workerId, 'local-stack')
  const stopHeartbeat = startHeartbeat(pool, workerId, {
    onError: (error) => ctx.logger.warn('heartbeat not written', { workerId, error: error.message }),
  })
  const deregister = async () => {
    stopHeartbeat()
    await bestEffort(markWorkerStopped(pool, workerId), 'a missed heartbeat marks the worker dead anyway')
  }
  ctx.undo.push(deregister)
  return { workerId, deregister }
}

/** Phase 4: the telephony driver — a real Asterisk over ARI (checked now), or the simulated callee. */
async function startDriver(ctx: StartContext, pool: pg.Pool, workerId: string): Promise<TelephonyDriver> {
  if (ctx.options.driver !== 'ari') return new SimDriver(ctx.options.sim ?? {})
  let config
  try {
    config = ariConfigFromEnv(process.env, { workerId })
  } catch (error) {
    throw new OperatorError(
      errorMessage(error),
      'Set the ARI_* variables (docs/asterisk.md, "Worker environment"), or run `dialctl dev` without --driver ari.',
    )
  }
  const ari = createAriDriver(config, { logger: ctx.log('ari-driver') })
  ctx.undo.push(() => ari.close())
  // before recoverOpenCalls: a channel left Up by a killed run is recorded answered
  wireCrashRecovery(ari, pool, workerId, ctx.log('worker'))
  const { refused, warning } = await connectAri(ari, 10_000)
  if (refused)
    throw new OperatorError(
      `ARI refused the credentials: ${refused}.`,
      'Fix ARI_USER / ARI_PASSWORD, then run `dialctl dev --driver ari` again.',
    )
  if (warning)
    throw new OperatorError(
      `${warning} (ARI_URL ${config.url}).`,
      `Check that Asterisk runs and serves ARI: curl -u "$ARI_USER" ${config.url.replace(/\/+$/, '')}/ari/asterisk/info`,
    )
  return ari
}

/** Phase 5: calls left open by a killed run are closed; the worker's HTTP server listens. */
async function startWorker(ctx: StartContext, stores: Stores, workerId: string, driver: TelephonyDriver) {
  const { pool } = stores
  const recovered = await recoverOpenCalls(pool, workerId, 'dialctl dev restarted while the call was open')
  if (recovered.closed.length)
    ctx.logger.warn('closed calls left open by a previous run', {
      calls: recovered.closed.length,
      deadWorkers: recovered.deadWorkers,
    })
  const token = process.env.WORKER_TOKEN ?? randomBytes(24).toString('base64url')
  const worker = createWorker({
    db: pool,
    driver,
    token,
    workerId,
    caps: { maxActiveCalls: ctx.options.maxActiveCalls ?? 1000 },
    logger: ctx.log('worker'),
    tracer: stores.tracer,
  })
  const wantedPort = ctx.options.workerPort ?? 8787
  const port = await worker.listen(wantedPort, '127.0.0.1').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error
    throw new OperatorError(
      `Port ${wantedPort} on 127.0.0.1 is in use, so the worker cannot listen there.`,
      'Another `dialctl dev` may be running (stop it with Ctrl-C), or pick a free port with --port.',
    )
  })
  ctx.undo.push(() => worker.close())
  return { worker, token, workerUrl: `http://127.0.0.1:${port}` }
}

/** Phase 6: the Lambdas' handlers in-process — enrich and dialer — behind the local pipe. */
async function startPipe(ctx: StartContext, stores: Stores, workerUrl: string, token: string) {
  const { options, log } = ctx
  const batchWindowSeconds = options.batchWindowSeconds ?? PIPE_BATCH_WINDOW_SECONDS
  // the dialer's dial and worker-deferral counts, per minute in pipe_metrics (CloudWatch on AWS)
  const late: { pipe?: LocalPipe<EnrichedDialTask> } = {}
  // the enrichment's tasks handed over typed: parsed where they entered (the queue body), not again
  const dialer = createInProcessDialer({
    ...dialerDeps({
      redis: stores.redis,
      db: stores.pool,
      // the same deferral path as the Lambda's SQS queue: refused tasks re-sent with a delay
      queue: stores.queue,
      logger: log('dialer-worker'),
      metrics: pipeTargetMetrics(() => late.pipe),
      tracer: stores.tracer,
      config: {
        WORKER_URL: workerUrl,
        WORKER_TOKEN: token,
        MAX_CPS: stores.maxCps,
        DEGRADED_CPS: Number(process.env.DEGRADED_CPS ?? 5),
        WORKER_TIMEOUT_MS: 5000,
        DIALCTL_REDIS_PREFIX: stores.prefix,
      },
    }),
    // deferred tasks come back through this pipe's batching window in time for their slots
    ...deferralTiming(batchWindowSeconds),
  })
  const enrich = createEnricher({ db: stores.pool, logger: log('enrich-dial-task'), tracer: stores.tracer })
  const pipe = new LocalPipe<EnrichedDialTask>({
    name: LOCAL_PIPE_NAME,
    pool: stores.pool,
    source: stores.queue,
    filter: DIAL_TASKS_FILTER,
    enrich: (records) => enrich(records),
    target: async (events) => dialer(events),
    batchSize: options.batchSize ?? PIPE_BATCH_SIZE,
    batchWindowSeconds,
    ...pipePollers(options),
    // On AWS a failed message reappears after the queue's visibility timeout (minutes); a 1 s
    // retry would spend a rate-limited task's three receives within seconds and send it to the
    // DLQ while the limiter is merely pacing. 5 s, 10 s, … keeps the seed's "3 tries then DLQ"
    // for real failures without DLQ-ing a burst the limit can drain.
    retryBackoff: { baseSeconds: options.retryBaseSeconds ?? 5, maxSeconds: 60 },
    describe: {
      enrichment: 'enrich-dial-task (in-process)',
      target: 'dialer-worker (in-process)',
      deadLetterQueue: stores.dlq.name,
    },
    logger: log('pipe'),
  })
  late.pipe = pipe
  await pipe.start()
  return pipe
}

/**
 * Phase 7: the dispatcher loop (the Step Functions loop's stand-in) feeding the queue from the
 * campaigns' contacts, unless turned off; under `trace` each task it queues starts its trace.
 */
function startDispatcher(
  ctx: StartContext,
  stores: Stores,
  limitStore: LimitStore,
): DispatcherLoop | undefined {
  if (ctx.options.dispatcher === false) return undefined
  const dispatchLog = ctx.log('dispatcher')
  const dispatcher = createDispatcherLoop({
    db: stores.pool,
    queue: ctx.options.trace ? stampingQueue(stores.queue) : stores.queue,
    limits: { getLimit: async () => (await limitStore.getLimit()).limit },
    logger: dispatchLog,
    intervalMs: ctx.options.dispatchIntervalMs ?? 2000,
    onRound: (round) =>
      dispatchLog.debug('dispatch round', {
        queued: round.queued,
        eligibleRemaining: round.eligibleRemaining,
        waitSeconds: round.waitSeconds,
      }),
  })
  dispatcher.start()
  return dispatcher
}

/** Phase 8: .dialctl/stack.json, so other terminals act on this stack's stores, schema and prefix. */
function announce(ctx: StartContext, stores: Stores, workerUrl: string): void {
  if (ctx.options.announce === false) return
  writeStackFile(
    {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      databaseUrl: stores.postgres.url,
      redisUrl: stores.redisService.url,
      workerUrl,
      pipeName: LOCAL_PIPE_NAME,
      maxCps: stores.maxCps,
      maxCpsFrom:
        ctx.options.maxCps !== undefined
          ? '--max-cps'
          : process.env.MAX_CPS !== undefined
            ? 'MAX_CPS'
            : 'built-in default',
      ...(stores.schema ? { schema: stores.schema } : {}),
      redisPrefix: stores.prefix,
      ...(ctx.options.logFile ? { logFile: ctx.options.logFile } : {}),
    },
    ctx.dataDir,
  )
}

/**
 * The seed's pipeline on one machine, with the Lambdas' own handler code: local queue (SQS
 * semantics, PostgreSQL) → local pipe (filter, batch, enrich, target) → dialer (limiter) →
 * worker with a simulated callee → outcomes in PostgreSQL; the dispatcher feeds the queue.
 * Started in named phases; a failure undoes the phases done, newest first, and rethrows.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const level = { level: options.logLevel ?? 'INFO' }
  const log = (component: string) => createLogger(component, level)
  const ctx: StartContext = {
    options,
    dataDir: options.dataDir ?? localDataDir(),
    log,
    logger: log('local-stack'),
    services: [],
    undo: [],
  }
  // Before anything starts: another live stack here keeps its file, and its port (issue #16).
  if (options.announce !== false) {
    const stale = await claimStackFile(ctx.dataDir)
    if (stale) ctx.replacedStackFile = stale
  }
  try {
    const stores = await startStores(ctx)
    const { media, demoSeeded } = await startMedia(ctx, stores.pool)
    const { workerId, deregister } = await registerStackWorker(ctx, stores.pool)
    const driver = await startDriver(ctx, stores.pool, workerId)
    const { worker, token, workerUrl } = await startWorker(ctx, stores, workerId, driver)
    const pipe = await startPipe(ctx, stores, workerUrl, token)
    const limitStore = createLimitStore({
      redis: stores.redis,
      prefix: stores.prefix,
      db: stores.pool,
      defaultLimit: stores.maxCps,
    })
    const dispatcher = startDispatcher(ctx, stores, limitStore)
    announce(ctx, stores, workerUrl)
    return stackHandle(ctx, {
      ...stores,
      media,
      demoSeeded,
      workerId,
      deregister,
      driver,
      worker,
      workerUrl,
      pipe,
      limitStore,
      dispatcher,
    })
  } catch (error) {
    // an OperatorError is shown to the operator by the CLI; anything else is worth the stack trace
    if (!(error instanceof OperatorError)) ctx.logger.error('local stack failed to start', asError(error))
    for (const step of ctx.undo.reverse())
      await bestEffort(
        async () => step(),
        'the start failure is rethrown; undo the other steps whatever this one does',
      )
    await stopServices(ctx.services)
    // the directory is free again: the next start must not meet this process's lock
    if (options.announce !== false) releaseStackClaim(ctx.dataDir)
    throw error
  }
}
