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

/**
 * SET key 1 EX ttl for every key: one command for a batch, where a pipeline of SETs made one
 * command object, one encoding and one reply per key (the dialer's Redis CPU, issue #17).
 */
const MARK_LUA = `for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', ARGV[1]) end return #KEYS`
const MARK_COMMAND = 'dialctlMarkDialed'

type MarkCommand = (numberOfKeys: number, ...args: (string | number)[]) => Promise<unknown>

/** Registers the script on the client once (EVALSHA, falling back to EVAL after a SCRIPT FLUSH). */
function defineMarkCommand(redis: Redis): MarkCommand {
  const r = redis as unknown as Record<string, MarkCommand | undefined>
  if (typeof r[MARK_COMMAND] !== 'function') redis.defineCommand(MARK_COMMAND, { lua: MARK_LUA })
  return r[MARK_COMMAND]!.bind(redis)
}

export function createRedisDialMarker(options: {
  redis: Redis
  prefix?: string
  ttlSeconds?: number
}): DialMarker {
  const keys = pacingKeys(options.prefix)
  const ttl = options.ttlSeconds ?? DEFAULT_MARKER_TTL_SECONDS
  const markDialed = defineMarkCommand(options.redis)
  return {
    async marked(ids) {
      if (ids.length === 0) return []
      const values = await options.redis.mget(...ids.map((id) => keys.dialed(id)))
      return values.map((v) => v !== null)
    },
    async mark(ids) {
      if (ids.length === 0) return
      // numberOfKeys given per call (no fixed count in defineCommand): the batch's keys, then the TTL
      await markDialed(ids.length, ...ids.map((id) => keys.dialed(id)), ttl)
    },
  }
}
