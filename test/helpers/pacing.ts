import type { Redis } from 'ioredis'
import { pacingKeys } from '../../src/pacing/keys.js'

/**
 * Puts the limiter in the state of one that has been running and is idle (its next free slot in
 * the past). A limiter with NO state starts conservatively — its first slot a horizon away, since
 * slots granted before a Redis loss are unknown (src/pacing/admit-script.ts) — which tests of
 * admission itself would otherwise have to wait out.
 */
export async function primeLimiter(redis: Redis, prefix: string): Promise<void> {
  const key = pacingKeys(prefix).pacer
  await redis.hset(key, 'tat', '0')
  await redis.expire(key, 600)
}
