import type { TransitionResult } from '../campaigns/lifecycle.js'
import { OperatorError } from '../errors.js'
import { asOperatorErrors, campaignModules, type DataContext } from './data-modules.js'
import type {
  CampaignInput,
  CampaignMedia,
  CampaignMove,
  CampaignSummary,
  CampaignTransition,
} from './port.js'

/**
 * The campaigns area of the data layer (DataPlane): summaries, lifecycle moves, creation, media.
 * `liveLimit` is the CPS limit the ETA uses (the live one, or MAX_CPS with Redis down).
 */
export interface CampaignContext extends DataContext {
  liveLimit(): Promise<number>
}

/**
 * Active and paused campaigns' audio URLs (audioUrlsOf) with their media health over the last
 * `windowMinutes` and the media guard's latest pause. Only `id` when given.
 */
export async function campaignMedia(
  { pool }: DataContext,
  windowMinutes: number,
  id?: string,
): Promise<CampaignMedia[]> {
  const { rows } = await pool.query<{
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
  const health = new Map((await mediaHealth(pool, windowMinutes, id)).map((h) => [h.campaignId, h]))
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

export async function listCampaigns(ctx: CampaignContext): Promise<CampaignSummary[]> {
  const { rows } = await ctx.pool.query<{ id: string }>('SELECT id FROM campaigns ORDER BY created_at, id')
  const cpsLimit = await ctx.liveLimit()
  const out: CampaignSummary[] = []
  for (const r of rows) out.push(await summary(ctx, r.id, cpsLimit))
  return out
}

export async function showCampaign(ctx: CampaignContext, id: string): Promise<CampaignSummary> {
  const base = await summary(ctx, id, await ctx.liveLimit())
  const [{ calleeZoneSummary }, { CampaignSummary: Summary }] = await Promise.all([
    campaignModules(),
    // port.ts's schemas need zod: loaded on use, like the campaign modules (`cps get` loads neither)
    import('./port.js'),
  ])
  const [zones, { rows }] = await Promise.all([
    calleeZoneSummary(ctx.pool, id, base.timezone),
    ctx.pool.query<{ windows: unknown }>(
      `SELECT config->'callingWindows' AS windows FROM campaigns WHERE id = $1`,
      [id],
    ),
  ])
  // the shape only (port.ts): the config was validated when it was stored
  const windows = Summary.shape.callingWindows.safeParse(rows[0]?.windows)
  return {
    ...base,
    calleeZones: zones,
    ...(windows.success && windows.data ? { callingWindows: windows.data } : {}),
  }
}

async function summary({ pool, now }: DataContext, id: string, cpsLimit: number): Promise<CampaignSummary> {
  const { campaignStats } = await campaignModules()
  const stats = await asOperatorErrors(() => campaignStats(pool, id, { cpsLimit, now: now() }))
  const { rows } = await pool.query<{ is_test: boolean; auto_complete: boolean }>(
    `SELECT is_test, coalesce(config->>'autoComplete' = 'true', false) AS auto_complete FROM campaigns WHERE id = $1`,
    [id],
  )
  return {
    ...stats,
    isTest: rows[0]?.is_test ?? false,
    autoComplete: rows[0]?.auto_complete ?? false,
    nextWindowOpening: stats.nextWindowOpening?.toISOString() ?? null,
  }
}

export async function transitionCampaign(
  { pool, now }: DataContext,
  id: string,
  move: CampaignMove,
  reason: string | null,
  actor: string,
): Promise<CampaignTransition> {
  const options = { actor, ...(reason ? { reason } : {}), now: now() }
  const { startCampaign, pauseCampaign, resumeCampaign, completeCampaign, cancelCampaign } =
    await campaignModules()
  const moves = {
    start: startCampaign,
    pause: pauseCampaign,
    resume: resumeCampaign,
    complete: completeCampaign,
    cancel: cancelCampaign,
  } as const
  const { CampaignTransitionError } = await campaignModules()
  const result: TransitionResult = await asOperatorErrors(() =>
    moves[move](pool, id, options).catch((error: unknown) => {
      // A runbook step repeated (pause a paused campaign) is done, not failed (issue #16): the
      // state asked for holds, nothing is recorded, and `changed: false` says so.
      if (error instanceof CampaignTransitionError && error.code === 'ALREADY_IN_STATE' && error.from)
        return { campaignId: id, from: error.from, to: error.from, at: options.now, actor, reason: null }
      throw error
    }),
  )
  return {
    id: result.campaignId,
    from: result.from,
    to: result.to,
    at: result.at.toISOString(),
    reason: result.reason,
    actor: result.actor,
    changed: result.from !== result.to,
  }
}

/** Validates the whole document first (every problem listed, naming field and node), then saves as draft. */
export async function createCampaign(ctx: CampaignContext, input: CampaignInput): Promise<CampaignSummary> {
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
    await saveCampaign(ctx.pool, campaign, { mode: 'insert', isTest: input.isTest ?? false })
  } catch (error) {
    if (error instanceof CampaignExistsError)
      throw new OperatorError(
        `Campaign "${campaign.id}" already exists.`,
        `Choose another "id" in the file, or inspect the existing one: dialctl campaign show ${campaign.id}`,
        1,
        'CAMPAIGN_EXISTS',
      )
    throw error
  }
  await ctx.pool.query(
    `INSERT INTO campaign_events (campaign_id, from_status, to_status, reason, actor)
     VALUES ($1, NULL, $2, 'created', $3)`,
    [campaign.id, campaign.status, input.actor],
  )
  return showCampaign(ctx, campaign.id)
}
