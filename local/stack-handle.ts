import { failOpenCalls } from '../src/calls/recorder.js'
import type { DispatcherLoop } from '../src/dispatch/loop.js'
import { bestEffort } from '../src/errors.js'
import type { startMediaServer } from '../src/local-stack/demo-audio.js'
import type { ServiceHandle } from '../src/local-stack/services.js'
import { releaseStackClaim } from '../src/local-stack/stack-file.js'
import { readCpsHistory } from '../src/pacing/history.js'
import type { LimitStore } from '../src/pacing/limit-store.js'
import type { EnrichedDialTask } from '../src/contracts/index.js'
import type { LocalPipe } from '../src/pipe/local-pipe.js'
import type { TelephonyDriver } from '../src/telephony/driver.js'
import type { Worker } from '../worker/app.js'
import type { Stores } from './stack.js'
import type { LocalStack, LocalStackStatus, StartContext } from './stack-options.js'

/** The started local stack's handle (stack.ts starts it in phases): status, a draining stop, the abandon. */

export async function stopServices(services: ServiceHandle[]): Promise<void> {
  for (const s of [...services].reverse())
    await bestEffort(s.stop(), 'stop the other services whatever this one does')
}

/** Everything the started stack holds, for its handle's status, stop and abandon. */
export interface Parts extends Stores {
  media: Awaited<ReturnType<typeof startMediaServer>>
  demoSeeded: boolean
  workerId: string
  deregister: () => Promise<void>
  driver: TelephonyDriver
  worker: Worker
  workerUrl: string
  pipe: LocalPipe<EnrichedDialTask>
  limitStore: LimitStore
  dispatcher: DispatcherLoop | undefined
}

/** The live status line's figures: CPS vs limit, queue and DLQ depth, the worker's calls. */
async function readStatus(p: Parts): Promise<LocalStackStatus> {
  const [history, limit, depth, dlqDepth] = await Promise.all([
    bestEffort(
      readCpsHistory(p.redis, 2, { prefix: p.prefix }),
      'the status line shows no rate while Redis is away',
    ),
    p.limitStore.getLimit().catch(() => ({ limit: p.maxCps, source: 'default' as const })),
    p.queue.depth(),
    p.dlq.depth(),
  ])
  const metrics = p.worker.metrics()
  // the last bucket is the second still filling: the one before it is "now"
  const secs = history?.seconds ?? []
  return {
    cpsNow: secs.length >= 2 ? secs[secs.length - 2]!.admitted : 0,
    cpsLimit: limit.limit,
    limitSource: limit.source,
    queueVisible: depth.visible,
    queueInFlight: depth.inFlight,
    dlqDepth: dlqDepth.visible + dlqDepth.inFlight,
    activeCalls: metrics.activeCalls,
    answered: metrics.answered,
    finished: metrics.finished,
  }
}

/** The stack's handle: its parts, the status line, a draining stop and the second Ctrl-C's abandon. */
export function stackHandle(ctx: StartContext, p: Parts): LocalStack {
  const { options, dataDir } = ctx
  let stopped = false
  let abandoned = false
  const release = async () => {
    await p.tracer.close()
    await p.deregister()
    if (options.announce !== false) releaseStackClaim(dataDir)
    p.redis.disconnect()
  }
  return {
    databaseUrl: p.postgres.url,
    redisUrl: p.redisService.url,
    schema: p.schema,
    redisPrefix: p.prefix,
    workerUrl: p.workerUrl,
    services: ctx.services,
    pool: p.pool,
    redis: p.redis,
    queue: p.queue,
    dlq: p.dlq,
    worker: p.worker,
    pipe: p.pipe,
    tracer: p.tracer,
    ...(p.dispatcher ? { dispatcher: p.dispatcher } : {}),
    demoSeeded: p.demoSeeded,
    ...(ctx.replacedStackFile ? { replacedStackFile: ctx.replacedStackFile } : {}),
    mediaUrl: p.media.audioUrl,
    status: () => readStatus(p),
    async abandon(reason: string) {
      if (abandoned) return 0
      abandoned = true
      stopped = true
      // Stop feeding the worker first, bounded: a batch still placing calls would open rows
      // after they were closed below.
      const bounded = (work: Promise<unknown>) =>
        Promise.race([work.catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())])
      await bounded(Promise.all([p.dispatcher?.stop(), p.pipe.close()]))
      // The calls stay in the simulated driver's memory only: closing their rows is what keeps
      // the database true. Their contacts move on as after any failed call (retry later).
      const closed = await failOpenCalls(p.pool, p.workerId, reason).catch(() => [])
      await release()
      await p.pool.end().catch(() => {})
      await stopServices(ctx.services)
      return closed.length
    },
    async stop() {
      if (stopped) return
      stopped = true
      // Order matters: no new tasks, then no new batches (in-flight ones finish and are
      // deleted or left for redelivery), then the calls already placed, then the stores.
      await p.dispatcher?.stop()
      await p.pipe.close()
      await p.worker.close()
      await p.driver.close()
      await p.media.close()
      await release()
      await p.pool.end()
      await stopServices(ctx.services)
    },
  }
}
