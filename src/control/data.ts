import type pg from 'pg'
import type { Redis } from 'ioredis'
import { errorMessage, OperatorError, StoreUnavailableError } from '../errors.js'
import type { CampaignStats } from '../campaigns/stats.js'
import type { TransitionResult } from '../campaigns/lifecycle.js'
import { withTransaction } from '../db/pool.js'
import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import type { SetLimitOptions } from '../pacing/limit-store.js'
import { pacingSnapshot, readLimitHistory, resumeAuto, writeLimit } from './pacing.js'
import type {
  CampaignSummary,
  AuditEntry,
  CampaignInput,
  CampaignMove,
  CampaignTransition,
  ContactRow,
  DataPort,
  ImportResult,
  OutcomeCount,
  PacingSnapshot,
  PushEntry,
  Reachability,
  RunProgress,
  CampaignMedia,
  ContactResultsPage,
} from './port.js'

/**
 * The campaign modules (zod contracts, IVR validation, lifecycle, CSV, report), loaded on first
 * use: a Redis-only command such as `cps get` does not pay for them at start-up (issue #16: within
 * 2× a bare Node process reading the same keys; measured in test/bench/cli.bench.ts).
 */
async function campaignModules() {
  const [stats, lifecycle, validate, contactsImport, repository, report] = await Promise.all([
    import('../campaigns/stats.js'),
    import('../campaigns/lifecycle.js'),
    import('../ivr/validate.js'),
    import('./contacts-import.js'),
    import('../campaigns/repository.js'),
    import('../campaigns/report.js'),
  ])
  return { ...stats, ...lifecycle, ...validate, ...contactsImport, ...repository, ...report }
}

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
 */
export class DataPlane implements DataPort {
  readonly pool: pg.Pool
  readonly redis: Redis
  private readonly now: () => Date

  constructor(private readonly options: DataPlaneOptions) {
    this.pool = options.pool
    this.redis = options.redis
    this.now = options.now ?? (() => new Date())
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

  /**
   * Active and paused campaigns' audio URLs (audioUrlsOf) with their media health over the last
   * `windowMinutes` and the media guard's latest pause. Only `id` when given.
   */
  async campaignMedia(windowMinutes: number, id?: string): Promise<CampaignMedia[]> {
    const { rows } = await this.pool.query<{
      id: string
      status: string
      is_test: boolean
      config: unknown
      guard_at: Date | null
      guard_reason: string | null
    }>(
      `SELECT c.id, c.status, c.is_test, c.config, g.at AS guard_at, g.reason AS guard_reason
         FROM campaigns c
         LEFT JOIN LATERAL (
           SELECT at, reason FROM campaign_events e
            WHERE e.campaign_id = c.id AND e.actor = 'media-guard' ORDER BY at DESC LIMIT 1
         ) g ON true
        WHERE ($1::text IS NULL AND c.status IN ('active', 'paused')) OR c.id = $1
        ORDER BY c.id`,
      [id ?? null],
    )
    // Loaded on first use: media health pulls the campaign lifecycle and contracts, which a
    // Redis-only command (`cps get`) never needs.
    const [{ mediaHealth }, { audioUrlsOf }] = await Promise.all([
      import('../telephony/media-health.js'),
      import('../telephony/audio-check.js'),
    ])
    const health = new Map((await mediaHealth(this.pool, windowMinutes, id)).map((h) => [h.campaignId, h]))
    return rows.map((r) => ({
      campaignId: r.id,
      status: r.status,
      isTest: r.is_test,
      audioUrls: audioUrlsOf(r.config),
      windowMinutes,
      pickedUp: health.get(r.id)?.pickedUp ?? 0,
      mediaFailures: health.get(r.id)?.mediaFailures ?? 0,
      guardPause: r.guard_at ? { at: r.guard_at.toISOString(), reason: r.guard_reason } : null,
    }))
  }

  async listCampaigns(): Promise<CampaignSummary[]> {
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM campaigns ORDER BY created_at, id')
    const cpsLimit = await this.liveLimitOrDefault()
    const out: CampaignSummary[] = []
    for (const r of rows) out.push(await this.summary(r.id, cpsLimit))
    return out
  }

  async showCampaign(id: string): Promise<CampaignSummary> {
    const summary = await this.summary(id, await this.liveLimitOrDefault())
    const [{ calleeZoneSummary }, { CampaignSummary: Summary }] = await Promise.all([
      campaignModules(),
      // port.ts's schemas need zod: loaded on use, like the campaign modules
      import('./port.js'),
    ])
    const [zones, { rows }] = await Promise.all([
      calleeZoneSummary(this.pool, id, summary.timezone),
      this.pool.query<{ windows: unknown }>(
        `SELECT config->'callingWindows' AS windows FROM campaigns WHERE id = $1`,
        [id],
      ),
    ])
    // the shape only (port.ts): the config was validated when it was stored
    const windows = Summary.shape.callingWindows.safeParse(rows[0]?.windows)
    return {
      ...summary,
      calleeZones: zones,
      ...(windows.success && windows.data ? { callingWindows: windows.data } : {}),
    }
  }

  /** The ETA uses the live limit; with Redis down the campaign figures still show, on the default. */
  private async liveLimitOrDefault(): Promise<number> {
    try {
      return (await this.pacing()).limit.limit
    } catch {
      return this.options.defaultLimit
    }
  }

  private async summary(id: string, cpsLimit: number): Promise<CampaignSummary> {
    const { campaignStats, CampaignNotFoundError } = await campaignModules()
    let stats: CampaignStats
    try {
      stats = await campaignStats(this.pool, id, { cpsLimit, now: this.now() })
    } catch (error) {
      if (error instanceof CampaignNotFoundError)
        throw new OperatorError(error.message, error.suggestion, 1, 'CAMPAIGN_NOT_FOUND')
      throw error
    }
    const { rows } = await this.pool.query<{ is_test: boolean }>(
      'SELECT is_test FROM campaigns WHERE id = $1',
      [id],
    )
    return {
      ...stats,
      isTest: rows[0]?.is_test ?? false,
      nextWindowOpening: stats.nextWindowOpening?.toISOString() ?? null,
    }
  }

  async transitionCampaign(
    id: string,
    move: CampaignMove,
    reason: string | null,
    actor: string,
  ): Promise<CampaignTransition> {
    const options = { actor, ...(reason ? { reason } : {}), now: this.now() }
    const {
      startCampaign,
      pauseCampaign,
      resumeCampaign,
      completeCampaign,
      cancelCampaign,
      CampaignTransitionError,
    } = await campaignModules()
    let result: TransitionResult
    try {
      const moves = {
        start: startCampaign,
        pause: pauseCampaign,
        resume: resumeCampaign,
        complete: completeCampaign,
        cancel: cancelCampaign,
      } as const
      result = await moves[move](this.pool, id, options)
    } catch (error) {
      if (error instanceof CampaignTransitionError)
        throw new OperatorError(error.message, error.suggestion, 1, error.code)
      throw error
    }
    return {
      id: result.campaignId,
      from: result.from,
      to: result.to,
      at: result.at.toISOString(),
      reason: result.reason,
      actor: result.actor,
    }
  }

  /** Validates the whole document first (every problem listed, naming field and node), then saves as draft. */
  async createCampaign(input: CampaignInput): Promise<CampaignSummary> {
    const doc = { status: 'draft', type: 'voice', ...(input.campaign as object) }
    const { validateCampaign, formatIssue, saveCampaign, CampaignExistsError } = await campaignModules()
    const result = validateCampaign(doc)
    if (!result.ok || !result.value) {
      throw new OperatorError(
        `The campaign file is invalid:\n${result.errors.map((e) => `  - ${formatIssue(e)}`).join('\n')}`,
        'Fix the fields named above and run the command again.',
        1,
        'INVALID_CAMPAIGN',
      )
    }
    const campaign = result.value
    try {
      await saveCampaign(this.pool, campaign, { mode: 'insert', isTest: input.isTest ?? false })
    } catch (error) {
      if (error instanceof CampaignExistsError)
        throw new OperatorError(
          `Campaign "${campaign.id}" already exists.`,
          'Choose another id in the file, or inspect the existing one with `dialctl campaign show`.',
          1,
          'CAMPAIGN_EXISTS',
        )
      throw error
    }
    await this.pool.query(
      `INSERT INTO campaign_events (campaign_id, from_status, to_status, reason, actor)
       VALUES ($1, NULL, $2, 'created', $3)`,
      [campaign.id, campaign.status, input.actor],
    )
    return this.showCampaign(campaign.id)
  }

  /** Refused for an unknown campaign and for a completed or cancelled one (nothing would dial them). */
  /** Inserts rows another process parsed, checked again first (assertContactRows): the authority sits here. */
  async importContacts(campaignId: string, rows: ContactRow[]): Promise<Omit<ImportResult, 'invalid'>> {
    const { assertContactRows } = await import('../contracts/contact-row.js')
    assertContactRows(rows)
    const { lockOpenForContacts, insertContacts, CampaignNotFoundError, CampaignTransitionError } =
      await campaignModules()
    try {
      return await withTransaction(this.pool, async (client) => {
        const status = await lockOpenForContacts(client, campaignId, 'import contacts into')
        if (status === undefined) throw new CampaignNotFoundError(campaignId)
        return insertContacts(client, campaignId, rows)
      })
    } catch (error) {
      if (error instanceof CampaignNotFoundError)
        throw new OperatorError(error.message, error.suggestion, 1, 'CAMPAIGN_NOT_FOUND')
      if (error instanceof CampaignTransitionError)
        throw new OperatorError(error.message, error.suggestion, 1, error.code)
      throw error
    }
  }

  async campaignReport(id: string): Promise<CampaignReport> {
    const { campaignReport, CampaignNotFoundError } = await campaignModules()
    try {
      return await campaignReport(this.pool, id, this.now())
    } catch (error) {
      if (error instanceof CampaignNotFoundError)
        throw new OperatorError(error.message, error.suggestion, 1, 'CAMPAIGN_NOT_FOUND')
      throw error
    }
  }

  async *contactResults(id: string): AsyncIterable<ContactResult> {
    const { contactResults } = await campaignModules()
    yield* contactResults(this.pool, id)
  }

  async contactResultsPage(id: string, after: string | null, limit: number): Promise<ContactResultsPage> {
    const { contactResults } = await campaignModules()
    const rows: ContactResult[] = []
    for await (const row of contactResults(this.pool, id, limit, after ?? '')) {
      rows.push(row)
      if (rows.length === limit) break
    }
    return { rows, next: rows.length === limit ? rows.at(-1)!.contactId : null }
  }

  /** Contact rows for tasks about to be pushed (see registerPushedContacts); returns rows created. */
  async registerPushedContacts(entries: readonly PushEntry[]): Promise<number> {
    const { registerPushedContacts } = await campaignModules()
    let created = 0
    for (const zone of new Set(entries.map((e) => e.timezone))) {
      const tasks = entries.filter((e) => e.timezone === zone).map((e) => e.task)
      created += await registerPushedContacts(this.pool, tasks, zone)
    }
    return created
  }

  /**
   * What became of the tasks of `campaignId` pushed since `since`: outcomes from task_outcomes,
   * send → dial latency from call_attempts.started_at against the send time of each contact.
   */
  async runProgress(
    campaignId: string,
    contactPrefix: string,
    since: Date,
    sentAt: Map<string, number>,
  ): Promise<RunProgress> {
    // Final outcomes without a dial are kept apart by stage and reason code (the text before ':').
    const { rows: outcomes } = await this.pool.query<{
      outcome: string
      stage: string
      reason: string | null
      n: string
    }>(
      `SELECT outcome, stage,
              CASE WHEN outcome IN ('dropped', 'filtered') THEN split_part(coalesce(reason, ''), ':', 1) END AS reason,
              count(*) AS n
         FROM task_outcomes
        WHERE campaign_id = $1 AND at >= $2 AND starts_with(contact_id, $3)
        GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3`,
      [campaignId, since, contactPrefix],
    )
    const count = (k: string) => outcomes.filter((o) => o.outcome === k).reduce((n, o) => n + Number(o.n), 0)
    const notDialed = outcomes
      .filter((o) => ['dropped', 'filtered', 'dlq'].includes(o.outcome))
      .map((o) => ({ stage: o.stage, outcome: o.outcome, reason: o.reason || null, count: Number(o.n) }))
    const { rows: dials } = await this.pool.query<{ contact_id: string; started_at: Date }>(
      `SELECT contact_id, started_at FROM call_attempts
        WHERE campaign_id = $1 AND started_at >= $2 AND starts_with(contact_id, $3) ORDER BY started_at`,
      [campaignId, since, contactPrefix],
    )
    const sendToDialMs: number[] = []
    for (const d of dials) {
      const sent = sentAt.get(d.contact_id)
      if (sent !== undefined) sendToDialMs.push(Math.max(0, d.started_at.getTime() - sent))
    }
    return {
      dialed: Math.max(count('dialed'), dials.length),
      rateLimited: count('rate_limited'),
      failed: count('failed'),
      dropped: count('dropped') + count('filtered'),
      dlq: count('dlq'),
      notDialed,
      sendToDialMs,
      firstDialAt: dials[0]?.started_at.toISOString() ?? null,
      lastDialAt: dials.at(-1)?.started_at.toISOString() ?? null,
    }
  }

  /**
   * Human-answered / finished calls that ended in the last `minutes` (the controller's answer-rate
   * input). A call AMD classified as a machine (status 'machine') is finished but not answered: a
   * campaign reaching voicemail boxes is not one whose pace may rise.
   */
  async answerRate(minutes: number): Promise<{ answerRate: number | null; sample: number }> {
    const { rows } = await this.pool.query<{ answered: string; finished: string }>(
      `SELECT count(*) FILTER (WHERE status = 'answered') AS answered, count(*) AS finished
         FROM call_attempts WHERE status <> 'dialing' AND ended_at >= $1`,
      [new Date(this.now().getTime() - minutes * 60_000)],
    )
    const finished = Number(rows[0]?.finished ?? 0)
    return { answerRate: finished > 0 ? Number(rows[0]!.answered) / finished : null, sample: finished }
  }

  async recentOutcomes(minutes: number): Promise<OutcomeCount[]> {
    const { rows } = await this.pool.query<{
      stage: string
      outcome: string
      reason: string | null
      campaign_id: string | null
      n: string
    }>(
      `SELECT stage, outcome, reason, campaign_id, count(*) AS n FROM task_outcomes
        WHERE at >= $1 GROUP BY stage, outcome, reason, campaign_id ORDER BY count(*) DESC LIMIT 200`,
      [new Date(this.now().getTime() - minutes * 60_000)],
    )
    return rows.map((r) => ({
      stage: r.stage,
      outcome: r.outcome,
      reason: r.reason,
      campaignId: r.campaign_id,
      count: Number(r.n),
    }))
  }

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
