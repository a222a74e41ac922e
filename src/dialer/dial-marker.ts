import type { Redis } from 'ioredis'
import { pacingKeys } from '../pacing/keys.js'

/**
 * Remembers the dials the worker accepted, by idempotency key (campaign:contact:attempt), so a
 * redelivered task is recognised before it takes a CPS slot. The worker's unique call row is
 * the authoritative guard; this marker only saves the slot and the round trip.
 */
export interface DialMarker {
  /** for each key, true when a dial for it was accepted already */
  marked(keys: string[]): Promise<boolean[]>
  mark(keys: string[]): Promise<void>
}

/** SQS keeps a message at most 14 days; a marker need not outlive it. */
export const DEFAULT_MARKER_TTL_SECONDS = 14 * 24 * 3600

export function createRedisDialMarker(options: {
  redis: Redis
  prefix?: string
  ttlSeconds?: number
}): DialMarker {
  const keys = pacingKeys(options.prefix)
  const ttl = options.ttlSeconds ?? DEFAULT_MARKER_TTL_SECONDS
  return {
    async marked(ids) {
      if (ids.length === 0) return []
      const values = await options.redis.mget(...ids.map((id) => keys.dialed(id)))
      return values.map((v) => v !== null)
    },
    async mark(ids) {
      if (ids.length === 0) return
      const p = options.redis.pipeline()
      for (const id of ids) p.set(keys.dialed(id), '1', 'EX', ttl)
      const results = await p.exec()
      const failed = results?.find(([error]) => error)
      if (failed) throw failed[0]
    },
  }
}
