import { vpc } from './network'

/** The source of truth for campaigns, contacts and outcomes (DESIGN: "PostgreSQL is the source of truth"). */
export const postgres = new sst.aws.Postgres('Postgres', {
  vpc,
  database: 'dialctl',
  // Lambdas open and close connections in bursts; the proxy pools them in front of the instance.
  proxy: true,
})

/**
 * The live CPS limit and the limiter's counters. Cluster mode off: the limiter is one Lua
 * script over several keys, which cluster mode would only allow inside one hash slot.
 */
export const redis = new sst.aws.Redis('Redis', { vpc, cluster: false })
