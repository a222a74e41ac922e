import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface TestRedis {
  redis: Redis
  prefix: string
  cleanup(): Promise<void>
}

/** A real Redis connection and a random key prefix for one test file; its keys removed afterwards. */
export async function createTestRedis(label = 't'): Promise<TestRedis> {
  const prefix = `test:${label}:${randomBytes(5).toString('hex')}:`
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  return {
    redis,
    prefix,
    async cleanup() {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    },
  }
}

/** Deletes every key under `prefix` (a test's or a bench's own), so a run leaves nothing behind. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length) await redis.del(...keys)
  } while (cursor !== '0')
}

/** deleteKeys on a connection of its own: for a stack that closed its client when it stopped. */
export async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  try {
    await deleteKeys(redis, prefix)
  } finally {
    redis.disconnect()
  }
}
