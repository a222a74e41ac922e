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
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        if (keys.length) await redis.del(...keys)
      } while (cursor !== '0')
      redis.disconnect()
    },
  }
}
