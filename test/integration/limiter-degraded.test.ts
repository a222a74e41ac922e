import net from 'node:net'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../src/observability/logger.js'
import { createLocalLimiter, createResilientLimiter } from '../../src/pacing/degraded.js'
import { readLastDegraded, recordDegradedPeriod } from '../../src/pacing/history.js'
import { createLimitStore } from '../../src/pacing/limit-store.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

/** A port where nothing listens: bind an ephemeral port, then close it. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  await new Promise((r) => server.close(r))
  return port
}

/** A TCP proxy to the real Redis that the test can take down and bring back on the same port. */
function redisProxy(port: number) {
  let server: net.Server | undefined
  const sockets = new Set<net.Socket>()
  return {
    async up() {
      server = net.createServer((client) => {
        const upstream = net.connect(6379, '127.0.0.1')
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on('close', () => sockets.delete(s))
          s.on('error', () => s.destroy())
        }
        client.pipe(upstream).pipe(client)
      })
      server.listen(port, '127.0.0.1')
      await once(server, 'listening')
    },
    async down() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server!.close(r))
    },
  }
}

const clientOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  lazyConnect: true,
  retryStrategy: () => 50,
} as const

let t: TestRedis
beforeAll(async () => {
  t = await createTestRedis('degraded')
})
afterAll(async () => {
  await t.cleanup()
})

describe('degraded mode (Redis unreachable)', () => {
  it('paces with the conservative local limit, never at full speed, and logs the transition once', async () => {
    const redis = new Redis(`redis://127.0.0.1:${await closedPort()}`, clientOptions)
    redis.on('error', () => {})
    redis.connect().catch(() => {})
    const logger = createLogger('test-degraded', { level: 'SILENT' })
    const error = vi.spyOn(logger, 'error')
    const limiter = createResilientLimiter({
      primary: createRedisLimiter({ redis, prefix: t.prefix }),
      degradedCps: 5,
      logger,
    })
    const first = await limiter.admit(10, 100)
    const second = await limiter.admit(10, 100)
    expect(first.mode).toBe('degraded')
    expect(limiter.mode).toBe('degraded')
    // not fail-open: nothing before the slots Redis may have granted have passed (one horizon),
    // then 5 per second at most (not 100) — the pace itself is the next test's
    expect(first.delaysMs.every((d) => d >= 999)).toBe(true)
    expect(first.delaysMs.length + second.delaysMs.length).toBeLessThanOrEqual(1)
    expect(error).toHaveBeenCalledTimes(1)
    expect(error.mock.calls[0]![0]).toMatch(/Redis unreachable: degraded pacing/)
    // the live limit, if lower, still caps the degraded pace
    const low = createResilientLimiter({
      primary: createRedisLimiter({ redis, prefix: t.prefix }),
      degradedCps: 5,
      logger,
    })
    expect((await low.admit(10, 2)).limit).toBe(2)

    // the limit store keeps serving a value (marked stale) instead of failing the batch
    const store = createLimitStore({ redis, prefix: t.prefix, defaultLimit: 80 })
    expect(await store.getLimit()).toEqual({ limit: 80, source: 'default', stale: true })
    redis.disconnect()
  })

  it('paces a degraded period at the local limit once its line starts, one horizon after the failure', async () => {
    let now = 1_000_000_000
    const local = createLocalLimiter({ nowMicros: () => now, lineStartsInMs: 1000 })
    // at the failure: every slot up to the Redis horizon may be taken by slots Redis granted
    const atFailure = await local.admit(10, 5)
    expect(atFailure.delaysMs).toEqual([])
    expect(atFailure.deferDelaysMs[0]).toBeGreaterThanOrEqual(1000)
    // a second later the line is open: 5 per second, 200 ms apart
    now += 1_000_000
    const next = await local.admit(10, 5)
    expect(next.delaysMs).toEqual([0, 200, 400, 600, 800])
  })

  it('recovers the shared limiter as soon as Redis answers again', async () => {
    const port = await closedPort()
    const proxy = redisProxy(port)
    await proxy.up()
    const redis = new Redis(`redis://127.0.0.1:${port}`, clientOptions)
    redis.on('error', () => {})
    await redis.connect()
    const logger = createLogger('test-degraded', { level: 'SILENT' })
    const error = vi.spyOn(logger, 'error')
    const info = vi.spyOn(logger, 'info')
    const prefix = `${t.prefix}r:`
    const limiter = createResilientLimiter({
      primary: createRedisLimiter({ redis, prefix }),
      degradedCps: 5,
      logger,
      onRecover: (period) => recordDegradedPeriod(redis, period, { prefix }),
    })
    expect((await limiter.admit(1, 100)).mode).toBe('redis')
    expect(await readLastDegraded(t.redis, { prefix })).toBeNull()

    await proxy.down()
    expect((await limiter.admit(1, 100)).mode).toBe('degraded')
    expect((await limiter.admit(1, 100)).mode).toBe('degraded')
    expect(error).toHaveBeenCalledTimes(1)

    await proxy.up()
    if (redis.status !== 'ready') await once(redis, 'ready')
    expect((await limiter.admit(1, 100)).mode).toBe('redis')
    expect(limiter.mode).toBe('redis')
    expect(info).toHaveBeenCalledWith(
      'Redis reachable again: pacing with the shared limit',
      expect.objectContaining({ limit: 100 }),
    )
    // recorded for `dialctl cps get` ("degraded within the last minute")
    const period = await readLastDegraded(t.redis, { prefix })
    expect(period!.to.getTime()).toBeGreaterThanOrEqual(period!.from.getTime())
    expect(Date.now() - period!.to.getTime()).toBeLessThan(3_600_000)
    redis.disconnect()
    await proxy.down()
  })
})

describe('no 1000 ms window over the limit across a transition (one instance)', () => {
  it('Redis → degraded: the local line starts one horizon and one interval after the failure', async () => {
    let nowMs = 1_000_000
    const clock = { nowMs: () => nowMs, localNowMicros: () => nowMs * 1000 }
    // the shared line, stood in by the same scheduler on the same clock, then failing
    const shared = createLocalLimiter({ nowMicros: clock.localNowMicros })
    let up = true
    const limiter = createResilientLimiter({
      primary: {
        admit: (n, l, o) => (up ? shared.admit(n, l, o) : Promise.reject(new Error('ECONNREFUSED'))),
      },
      degradedCps: 10,
      logger: createLogger('test-degraded', { level: 'SILENT' }),
      ...clock,
    })
    const slots: number[] = []
    const take = async (n: number) => {
      const a = await limiter.admit(n, 10)
      slots.push(...a.delaysMs.map((d) => nowMs + d))
      return a
    }
    await take(20) // the shared line granted to its horizon: 0, 100, …, 900 ms
    nowMs += 1
    up = false
    expect((await take(10)).delaysMs).toEqual([])
    nowMs += 1100
    await take(10)
    expect(Math.min(...slots.slice(10))).toBe(1_000_000 + 1 + 1000 + 100)
    expect(worstWindow(slots)).toBeLessThanOrEqual(10)
  })

  it('degraded → Redis: the shared line is asked for no slot before one interval after the last local one', async () => {
    let nowMs = 1_000_000
    const asked: Array<number | undefined> = []
    let up = false
    const limiter = createResilientLimiter({
      primary: {
        admit: async (n, limit, o) => {
          if (!up) throw new Error('ECONNREFUSED')
          asked.push(o?.notBeforeMs)
          return { mode: 'redis', limit, delaysMs: [], deferDelaysMs: Array(n).fill(1000) }
        },
      },
      degradedCps: 5,
      logger: createLogger('test-degraded', { level: 'SILENT' }),
      nowMs: () => nowMs,
      localNowMicros: () => nowMs * 1000,
    })
    await limiter.admit(1, 10) // fails over: the local line opens 1100 ms later
    nowMs += 1100
    const local = await limiter.admit(10, 10) // 5 CPS: slots at 0, 200, …, 800 ms
    expect(local.delaysMs).toEqual([0, 200, 400, 600, 800])
    nowMs += 300
    up = true
    await limiter.admit(5, 10)
    // last local slot 800 ms after the local call, now 300 ms after it: 500 ms + 100 ms + 1 ms
    expect(asked).toEqual([601])
    nowMs += 1000
    await limiter.admit(5, 10)
    expect(asked).toEqual([601, undefined])
  })
})

function worstWindow(slots: number[]): number {
  const sorted = [...slots].sort((a, b) => a - b)
  let worst = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++
    worst = Math.max(worst, j - i)
  }
  return worst
}
