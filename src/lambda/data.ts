import { DataPlane } from '../control/data.js'
import { createPool } from '../db/pool.js'
import { createRedisClient } from '../stores/redis.js'
import type { ControlEnv } from './env.js'
import { linkedPostgres, linkedRedis } from './links.js'

/**
 * The stage's data layer as a Lambda in the VPC opens it: PostgreSQL and Redis from the links,
 * a small pool (Lambda concurrency multiplies it; RDS Proxy pools behind it).
 */
export function lambdaDataPlane(env: Pick<ControlEnv, 'DIALCTL_REDIS_PREFIX' | 'MAX_CPS'>): DataPlane {
  return new DataPlane({
    pool: createPool(linkedPostgres(), { max: 2 }),
    // An operator (or the pacer's one-minute step) waits on the other end: connect on first use,
    // queue commands until the connection is ready, fail within seconds — the CLI's profile.
    redis: createRedisClient(linkedRedis(), { role: 'cli' }),
    redisPrefix: env.DIALCTL_REDIS_PREFIX,
    defaultLimit: env.MAX_CPS,
  })
}
