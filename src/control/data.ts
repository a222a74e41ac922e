import type pg from 'pg'
import type { Redis } from 'ioredis'
import { errorMessage, OperatorError, StoreUnavailableError } from '../errors.js'
import type { SetLimitOptions } from '../pacing/limit-store.js'
import * as campaigns from './data-campaigns.js'
import * as contacts from './data-contacts.js'
import type { DataContext } from './data-modules.js'
import * as outcomes from './data-outcomes.js'
import { pacingSnapshot, readLimitHistory, resumeAuto, writeLimit } from './pacing.js'
import type { AuditEntry, DataPort, PacingSnapshot, Reachability } from './port.js'

export interface DataPlaneOptions {
  pool: pg.Pool
  redis: Redis
  /** key prefix of the pacing state (DIALCTL_REDIS_PREFIX), shared with src/pacing */
  redisPrefix: string
  /** MAX_CPS: the limit when Redis holds none */
  defaultLimit: number
  /** for error messages only */
  redisUrl?: string
  now?: () => Date
}

/**
 * The part of a stage that lives in its PostgreSQL and Redis: pacing, campaigns, contacts,
 * outcomes. Identical for the local stack and an AWS stage (only the URLs differ).
 *
 * Pacing (Redis) lives here; the PostgreSQL areas are in data-campaigns.ts, data-contacts.ts and
 * data-outcomes.ts, each a set of functions over the pool and clock this class hands them.
 */
export class DataPlane implements DataPort {
  readonly pool: pg.Pool
  readonly redis: Redis
  private readonly now: () => Date
  private readonly ctx: DataContext
  private readonly campaignCtx: campaigns.CampaignContext

  constructor(private readonly options: DataPlaneOptions) {
    this.pool = options.pool
    this.redis = options.redis
    this.now = options.now ?? (() => new Date())
    this.ctx = { pool: this.pool, now: this.now }
    this.campaignCtx = { ...this.ctx, liveLimit: () => this.liveLimitOrDefault() }
  }

  /**
   * Runs `fn` on Redis, connecting on first use (commands that never touch Redis do not wait for
   * it). A refused, dropped or silent Redis (every wait is bounded by the client's role, see
   * src/stores/redis.ts) becomes a StoreUnavailableError naming it; a reply error (a bug, a wrong
   * key type) stays what it is.
   */
  private async onRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      if (this.redis.status === 'wait') await this.redis.connect()
      return await fn(this.redis)
    } catch (error) {
      const message = errorMessage(error)
      // writeLimit also writes PostgreSQL: only Redis's own failures are named as Redis's
      const redisFailed =
        this.redis.status !== 'ready' ||
        /Command timed out|Connection is closed|Stream isn't writeable|max retries|Socket timeout/i.test(
          message,
        )
      if (error instanceof OperatorError || !redisFailed) throw error
      throw new StoreUnavailableError('Redis', this.options.redisUrl, message)
    }
  }

  async pacing(): Promise<PacingSnapshot> {
    return this.onRedis((redis) =>
      pacingSnapshot(redis, this.options.redisPrefix, this.options.defaultLimit, this.pool),
    )
  }

  async setLimit(
    limit: number,
    reason: string,
    actor: string,
    source = 'cli',
    options: SetLimitOptions = {},
  ): Promise<AuditEntry & { skipped?: 'held' }> {
    return this.onRedis((redis) =>
      writeLimit(
        redis,
        this.pool,
        this.options.redisPrefix,
        this.options.defaultLimit,
        { limit, reason, actor, source },
        options,
      ),
    )
  }

  async resumeAuto(reason: string, actor: string): Promise<boolean> {
    return this.onRedis((redis) => resumeAuto(redis, this.pool, this.options.redisPrefix, { reason, actor }))
  }

  limitHistory(limit: number): Promise<AuditEntry[]> {
    return readLimitHistory(this.pool, limit)
  }

  /** The ETA uses the live limit; with Redis down the campaign figures still show, on the default. */
  private async liveLimitOrDefault(): Promise<number> {
    try {
      return (await this.pacing()).limit.limit
    } catch {
      return this.options.defaultLimit
    }
  }

  // The PostgreSQL areas, typed by the port: each passes its arguments on with the pool and clock.
  readonly campaignMedia: DataPort['campaignMedia'] = (...a) => campaigns.campaignMedia(this.ctx, ...a)
  readonly listCampaigns: DataPort['listCampaigns'] = () => campaigns.listCampaigns(this.campaignCtx)
  readonly showCampaign: DataPort['showCampaign'] = (...a) => campaigns.showCampaign(this.campaignCtx, ...a)
  readonly transitionCampaign: DataPort['transitionCampaign'] = (...a) =>
    campaigns.transitionCampaign(this.ctx, ...a)
  readonly createCampaign: DataPort['createCampaign'] = (...a) =>
    campaigns.createCampaign(this.campaignCtx, ...a)

  readonly importContacts: DataPort['importContacts'] = (...a) => contacts.importContacts(this.ctx, ...a)
  readonly campaignReport: DataPort['campaignReport'] = (...a) => contacts.campaignReport(this.ctx, ...a)
  readonly contactResults: DataPort['contactResults'] = (...a) => contacts.contactResults(this.ctx, ...a)
  readonly contactResultsPage: DataPort['contactResultsPage'] = (...a) =>
    contacts.contactResultsPage(this.ctx, ...a)
  readonly registerPushedContacts: DataPort['registerPushedContacts'] = (...a) =>
    contacts.registerPushedContacts(this.ctx, ...a)

  readonly runProgress: DataPort['runProgress'] = (...a) => outcomes.runProgress(this.ctx, ...a)
  readonly answerRate: DataPort['answerRate'] = (...a) => outcomes.answerRate(this.ctx, ...a)
  readonly recentOutcomes: DataPort['recentOutcomes'] = (...a) => outcomes.recentOutcomes(this.ctx, ...a)

  async ping(): Promise<Reachability> {
    const postgres = await this.pool.query('SELECT 1').then(
      () => true,
      () => false,
    )
    const redis = await this.onRedis((r) => r.ping()).then(
      (r) => r === 'PONG',
      () => false,
    )
    return { postgres, redis }
  }

  async close(): Promise<void> {
    this.redis.disconnect()
    await this.pool.end()
  }
}
