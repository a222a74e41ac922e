import type { Redis } from 'ioredis'
import type { EnrichedDialTask } from '../../src/contracts/index.js'
import { pacingKeys } from '../../src/pacing/keys.js'
import type { PipeRecord } from '../../src/pipe/local-pipe.js'

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

/**
 * Enrichment's stand-in for the pacing tests and bench: each record's task with the given
 * campaign attached (no PostgreSQL lookup), keeping its messageId as enrich-dial-task does.
 */
export function enrichWith(
  campaign: EnrichedDialTask['campaign'],
): (records: PipeRecord[]) => Promise<EnrichedDialTask[]> {
  return async (records) =>
    records.map((r) => ({
      ...(JSON.parse(r.body) as Omit<EnrichedDialTask, 'campaign' | 'enrichedAt' | 'messageId'>),
      campaign,
      enrichedAt: new Date().toISOString(),
      messageId: r.messageId,
    }))
}
