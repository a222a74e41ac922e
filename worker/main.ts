/**
 * The worker process: `node dist/worker/main.js` (or `tsx worker/main.ts`). Reads its settings
 * from the environment (see WorkerEnv in worker/app.ts and docs/worker.md), closes calls a
 * previous crash left open, then serves POST /dial, GET /health and GET /metrics.
 */
import {
  markWorkerStopped,
  recoverOpenCalls,
  registerWorker,
  resolveWorkerId,
  startHeartbeat,
  WorkerIdInUseError,
} from '../src/calls/workers.js'
import { describeZodError } from '../src/contracts/errors.js'
import { createPool, pgSettingsFromEnv, type Db } from '../src/db/pool.js'
import { createLogger } from '../src/observability/logger.js'
import { awsTracer } from '../src/tracing/aws.js'
import { maskPhonesIn } from '../src/observability/mask.js'
import type { TelephonyDriver } from '../src/telephony/driver.js'
import { createWorker, WorkerEnv } from './app.js'
import { SimDriver, SimOptions } from './drivers/sim.js'
import { asError, bestEffort, errorMessage } from '../src/errors.js'

const logger = createLogger('worker')

/**
 * The worker's settings from its environment; its spans (issue #19) go to the X-Ray daemon
 * sidecar (stacks/worker.ts) every second, and tracing is off without one.
 */
function workerSettings(env: WorkerEnv) {
  return {
    token: env.WORKER_TOKEN,
    caps: { maxActiveCalls: env.MAX_ACTIVE_CALLS },
    call: { ringTimeoutSeconds: env.RING_TIMEOUT_SECONDS },
    drainTimeoutMs: env.DRAIN_TIMEOUT_SECONDS * 1000,
    tracer: awsTracer('dialctl-worker', process.env, {
      flushEveryMs: 1000,
      onExportError: (error) => logger.warn('spans not sent to the X-Ray daemon', { error: String(error) }),
    }),
  }
}

function fail(message: string): never {
  logger.error(message)
  // stderr outside the logger: the same masking (the message may carry an env value)
  console.error(`worker: ${maskPhonesIn(message)}`)
  process.exit(1)
}

/** SIM_OPTIONS (JSON, any SimOptions field) with SIM_SEED / SIM_SPEED as shortcuts. */
function simDriverFromEnv(env: NodeJS.ProcessEnv): SimDriver {
  let json: Record<string, unknown> = {}
  if (env.SIM_OPTIONS) {
    try {
      json = JSON.parse(env.SIM_OPTIONS) as Record<string, unknown>
    } catch {
      fail('SIM_OPTIONS must be JSON, e.g. {"answerRate":0.6,"dtmf":{"1":0.3,"none":0.7}}')
    }
  }
  if (env.SIM_SEED) json.seed = env.SIM_SEED
  if (env.SIM_SPEED) json.speed = Number(env.SIM_SPEED)
  const parsed = SimOptions.safeParse(json)
  if (!parsed.success) fail(`SIM_OPTIONS / SIM_SEED / SIM_SPEED: ${describeZodError(parsed.error)}`)
  return new SimDriver(parsed.data)
}

/**
 * The ARI driver, connected and reconciled: channels a crashed run of this worker left in its
 * Stasis app are hung up and their rows closed with the outcome Asterisk's state implies before
 * failOpenCalls closes the rest (so an answered callee is never re-dialed). Exits non-zero when
 * Asterisk refuses the credentials: that never fixes itself.
 */
async function ariDriverFromEnv(env: NodeJS.ProcessEnv, workerId: string, db: Db): Promise<TelephonyDriver> {
  // A variable specifier: the ARI driver is another module's work and may be absent from a build.
  const specifier = './drivers/ari/index.js'
  let mod: typeof import('./drivers/ari/index.js')
  try {
    mod = (await import(specifier)) as typeof import('./drivers/ari/index.js')
  } catch (error) {
    fail(
      `DRIVER=ari but the ARI driver could not be loaded (${errorMessage(error)}). ` +
        'Build it (npm run build) or run with DRIVER=sim.',
    )
  }
  let config: ReturnType<typeof mod.ariConfigFromEnv>
  try {
    config = mod.ariConfigFromEnv(env, { workerId })
  } catch (error) {
    fail(errorMessage(error))
  }
  const driver = mod.createAriDriver(config, { logger: createLogger('ari-driver') })
  mod.wireCrashRecovery(driver, db, workerId, logger)
  const { refused, warning } = await mod.connectAri(driver, 10_000)
  if (refused) {
    await driver.close()
    fail(`ARI credentials refused (401 from ${String(env.ARI_URL ?? '')}): ${refused}`)
  }
  // Not fatal: /health says 503 and POST /dial answers 503 (retryable) until ARI is connected.
  if (warning) logger.warn(warning, { url: String(env.ARI_URL ?? '') })
  return driver
}

async function main(): Promise<void> {
  const parsed = WorkerEnv.safeParse(process.env)
  if (!parsed.success) fail(`environment: ${describeZodError(parsed.error)}`)
  const env = parsed.data
  // Unique per process unless WORKER_ID pins it; recovery finds a dead predecessor's calls by its
  // stopped heartbeat, whatever its id was.
  const workerId = resolveWorkerId('worker')

  const db = createPool(pgSettingsFromEnv(), { max: 20 })
  // Registered before the ARI driver connects: its reconcile hangs up channels of this id, which
  // must not belong to a live process holding the same WORKER_ID.
  await registerWorker(db, workerId, 'worker').catch((error: unknown) =>
    failOnStore(error, 'register the worker'),
  )
  const driver =
    env.DRIVER === 'ari' ? await ariDriverFromEnv(process.env, workerId, db) : simDriverFromEnv(process.env)
  await recoverCalls(db, workerId)
  const stopHeartbeat = startHeartbeat(db, workerId, {
    onError: (error) => logger.warn('heartbeat not written', { workerId, error: error.message }),
  })

  const worker = createWorker({ db, driver, workerId, logger, ...workerSettings(env) })
  const port = await worker.listen(env.PORT)
  logger.info('worker listening', {
    port,
    workerId,
    driver: driver.name,
    maxActiveCalls: env.MAX_ACTIVE_CALLS,
  })
  stopOnSignals(
    async () => {
      const { unfinishedCalls } = await worker.close()
      stopHeartbeat()
      await bestEffort(markWorkerStopped(db, workerId), 'a missed heartbeat marks the worker dead anyway')
      await driver.close()
      await db.end()
      return unfinishedCalls
    },
    () => worker.activeCalls,
  )
}

/** Exits with what to do when PostgreSQL could not `what` (or the WORKER_ID is taken). */
function failOnStore(error: unknown, what: string): never {
  if (error instanceof WorkerIdInUseError)
    fail(
      `${error.message}; set a different WORKER_ID (or unset it to get a generated one), or stop that worker`,
    )
  fail(
    `cannot reach PostgreSQL to ${what} (${errorMessage(error)}); check DATABASE_URL and run \`dialctl db migrate\``,
  )
}

/** Closes the calls a dead predecessor left open (its contacts move on). */
async function recoverCalls(db: Db, workerId: string): Promise<void> {
  try {
    const { closed, deadWorkers } = await recoverOpenCalls(
      db,
      workerId,
      'worker restarted while the call was open',
    )
    if (closed.length)
      logger.warn('closed calls left open by a previous run', { workerId, calls: closed.length, deadWorkers })
  } catch (error) {
    failOnStore(error, 'recover open calls')
  }
}

/** SIGTERM / SIGINT: drain once (`shutdown` returns the calls left unfinished), then exit 0. */
function stopOnSignals(shutdown: () => Promise<number>, activeCalls: () => number): void {
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info('shutting down: draining active calls', { signal, activeCalls: activeCalls() })
    const unfinishedCalls = await shutdown()
    logger.info('worker stopped', { unfinishedCalls })
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}

main().catch((error: unknown) => fail(asError(error).stack ?? String(error)))
