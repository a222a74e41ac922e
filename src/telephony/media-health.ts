import type pg from 'pg'
import { CampaignTransitionError, pauseCampaign } from '../campaigns/lifecycle.js'

/**
 * A campaign whose audio keeps failing plays silence to everyone who picks up (an unreachable or
 * 404 URL, an mp3 on an Asterisk without format_mp3, Asterisk's HTTP media cache failing now and
 * then: asterisk/asterisk#444, #1689). Each such call is recorded `failed` with reason `media`
 * and retried; this guard pauses the campaign once failures dominate, so it does not burn every
 * contact's attempts on silence.
 */
export interface MediaGuardPolicy {
  /** look-back, minutes (default 15) */
  windowMinutes: number
  /** no pause below this many media failures in the window (default 5) */
  minFailures: number
  /** pause when media failures are at least this share of the calls picked up (0–1, default 0.5) */
  maxShare: number
}

export const DEFAULT_MEDIA_GUARD: MediaGuardPolicy = { windowMinutes: 15, minFailures: 5, maxShare: 0.5 }

export interface MediaHealth {
  campaignId: string
  /** calls picked up in the window (answered, plus media failures: the callee answered too) */
  pickedUp: number
  mediaFailures: number
  /** mediaFailures / pickedUp, 0 when nothing was picked up */
  share: number
}

/** Media failures against calls picked up, per campaign, over the last `windowMinutes`. */
export async function mediaHealth(
  db: pg.Pool | pg.PoolClient,
  windowMinutes: number,
  campaignId?: string,
): Promise<MediaHealth[]> {
  const { rows } = await db.query<{ campaign_id: string; picked_up: number; media: number }>(
    `SELECT campaign_id,
            count(*) FILTER (WHERE answered_at IS NOT NULL)::int AS picked_up,
            count(*) FILTER (WHERE reason = 'media')::int AS media
       FROM call_attempts
      WHERE ended_at > now() - make_interval(mins => $1) AND ($2::text IS NULL OR campaign_id = $2)
      GROUP BY campaign_id
      ORDER BY campaign_id`,
    [windowMinutes, campaignId ?? null],
  )
  return rows.map((r) => ({
    campaignId: r.campaign_id,
    pickedUp: r.picked_up,
    mediaFailures: r.media,
    share: r.picked_up === 0 ? 0 : Math.round((r.media / r.picked_up) * 1000) / 1000,
  }))
}

export interface MediaGuardResult {
  health: MediaHealth
  /** true when this call paused the campaign */
  paused: boolean
}

/**
 * Called after a media failure: pauses the campaign (actor `media-guard`, reason in
 * campaign_events) when the window holds at least `minFailures` media failures and they are at
 * least `maxShare` of the calls picked up. A campaign that is not active is left alone.
 */
export async function guardCampaignMedia(
  pool: pg.Pool,
  campaignId: string,
  policy: MediaGuardPolicy = DEFAULT_MEDIA_GUARD,
): Promise<MediaGuardResult> {
  const [found] = await mediaHealth(pool, policy.windowMinutes, campaignId)
  const health = found ?? { campaignId, pickedUp: 0, mediaFailures: 0, share: 0 }
  if (health.mediaFailures < policy.minFailures || health.share < policy.maxShare)
    return { health, paused: false }
  try {
    await pauseCampaign(pool, campaignId, {
      actor: 'media-guard',
      reason:
        `audio failed on ${health.mediaFailures} of ${health.pickedUp} calls picked up in ${policy.windowMinutes} min; ` +
        `fix the audio URL (dialctl doctor), then dialctl campaign resume ${campaignId}`,
    })
    return { health, paused: true }
  } catch (error) {
    if (error instanceof CampaignTransitionError) return { health, paused: false }
    throw error
  }
}
