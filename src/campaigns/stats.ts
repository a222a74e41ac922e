import { CampaignConfig, type CampaignStatus } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { isWithinCallingWindow, nextWindowOpening } from './window.js'

/** Call length assumed for the concurrency bound until the campaign has finished calls of its own. */
export const DEFAULT_CALL_SECONDS = 30

/** The recent past over which the observed dial rate is measured (seconds). */
export const OBSERVED_RATE_WINDOW_SECONDS = 300

export interface CampaignStats {
  campaignId: string
  name: string
  status: CampaignStatus
  timezone: string
  contacts: { total: number; pending: number; queued: number; dialing: number; done: number; failed: number }
  /** dials placed (call_attempts rows) */
  attempts: number
  /** dials that ended (any status but dialing): the answer rate's denominator */
  finishedDials: number
  /** dials a human answered (AMD's machines are not answers: see `machines`) */
  answered: number
  /** human answers / finishedDials; null before the first finished dial */
  answerRate: number | null
  /** dials answering-machine detection classified as a machine */
  machines: number
  /** machines / finishedDials; null before the first finished dial */
  machineRate: number | null
  /**
   * The campaign has contacts and none is pending, queued or dialing. Not an end: the campaign
   * stays open to imports and pushes until an operator completes it (or `autoComplete: true`).
   */
  allContactsFinished: boolean
  donations: number
  /** contacts whose number is on the blacklist (whatever their state) */
  blacklisted: number
  windowOpen: boolean
  /** now when open; null when the config has no usable window */
  nextWindowOpening: Date | null
  pace: {
    cpsLimit: number
    maxConcurrentCalls: number
    avgCallSeconds: number
    /** calls per second the concurrency allows: maxConcurrentCalls / avgCallSeconds */
    concurrencyRate: number
    /**
     * dials per second over `observedSeconds`: the last OBSERVED_RATE_WINDOW_SECONDS, or since the
     * first dial in it when that is shorter (a campaign dialing for 20 s is not averaged over 5 min);
     * null when none was placed
     */
    observedRate: number | null
    /** the span observedRate is measured over (seconds, at least 1); null when none was placed */
    observedSeconds: number | null
    /**
     * the rate the ETA uses: the observed rate while the campaign is dialing (it already includes
     * pacing, concurrency, the queue and retries), else min(cpsLimit, concurrencyRate)
     */
    rate: number
    rateSource: 'observed' | 'configured'
  }
  /** dials still to place: at least one per open contact, at most its attempts left */
  remainingAttempts: { min: number; max: number }
  /**
   * seconds of open window until the campaign's calls are over: remainingAttempts.min / .max at
   * `pace.rate` (observed while dialing), plus one average call for the last one
   */
  etaSeconds: number | null
  etaWorstSeconds: number | null
}

export class CampaignNotFoundError extends Error {
  readonly suggestion = 'Check the id with `dialctl campaign list`.'
  constructor(readonly campaignId: string) {
    super(`Campaign "${campaignId}" does not exist.`)
    this.name = 'CampaignNotFoundError'
  }
}

/** One row of the stats query: counts come back from PostgreSQL as text. */
interface StatsRow {
  name: string
  status: CampaignStatus
  timezone: string
  config: unknown
  total: string
  pending: string
  queued: string
  dialing: string
  done: string
  failed: string
  remaining_min: string
  remaining_max: string | null
  blacklisted: string
  attempts: string
  finished: string
  answered: string
  machines: string
  avg_ms: string | null
  recent: string
  recent_first: Date | null
  donations: string
}

/**
 * The figures of `dialctl campaign show`, in one query: the campaign row, its contacts by state,
 * its dials and donations. `cpsLimit` is the live limit (the caller reads the limit store).
 * @throws CampaignNotFoundError
 */
export async function campaignStats(
  db: Db,
  campaignId: string,
  options: { cpsLimit: number; now?: Date },
): Promise<CampaignStats> {
  const now = options.now ?? new Date()
  const r = await readStatsRow(db, campaignId, now)
  const config = CampaignConfig.safeParse(r.config)
  const window = config.success ? windowState(now, config.data, r.timezone) : { open: false, opening: null }
  const pace = paceOf(r, now, config.success ? config.data.maxConcurrentCalls : 0, options.cpsLimit)
  const remaining = { min: Number(r.remaining_min), max: Number(r.remaining_max ?? 0) }
  const open = Number(r.pending) + Number(r.queued) + Number(r.dialing)
  // Placing the last dial is not the end: its call still runs for about one average call.
  const eta = (n: number) =>
    n === 0 ? 0 : pace.rate > 0 ? Math.ceil(n / pace.rate + pace.avgCallSeconds) : null
  const finished = Number(r.finished)
  const answered = Number(r.answered)
  return {
    campaignId,
    name: r.name,
    status: r.status,
    timezone: r.timezone,
    contacts: {
      total: Number(r.total),
      pending: Number(r.pending),
      queued: Number(r.queued),
      dialing: Number(r.dialing),
      done: Number(r.done),
      failed: Number(r.failed),
    },
    attempts: Number(r.attempts),
    finishedDials: finished,
    answered,
    answerRate: finished > 0 ? answered / finished : null,
    machines: Number(r.machines),
    machineRate: finished > 0 ? Number(r.machines) / finished : null,
    allContactsFinished: Number(r.total) > 0 && open === 0,
    donations: Number(r.donations),
    blacklisted: Number(r.blacklisted),
    windowOpen: window.open,
    nextWindowOpening: window.opening,
    pace,
    remainingAttempts: remaining,
    etaSeconds: eta(remaining.min),
    etaWorstSeconds: eta(remaining.max),
  }
}

/** The campaign row with its contacts, dials and donations counted. @throws CampaignNotFoundError */
async function readStatsRow(db: Db, campaignId: string, now: Date): Promise<StatsRow> {
  const { rows } = await db.query<StatsRow>(
    `WITH camp AS (
       SELECT id, name, status, timezone, config,
              COALESCE((config->>'maxAttemptsPerContact')::int, 1) AS max_attempts
         FROM campaigns WHERE id = $1
     ),
     ct AS (
       SELECT c.status, c.attempts,
              EXISTS (SELECT 1 FROM blacklist b WHERE b.phone_number = c.phone_number) AS listed
         FROM contacts c WHERE c.campaign_id = $1
     ),
     ca AS (
       SELECT count(*) AS attempts,
              count(*) FILTER (WHERE status <> 'dialing') AS finished,
              count(*) FILTER (WHERE status = 'answered') AS answered,
              count(*) FILTER (WHERE status = 'machine') AS machines,
              avg(duration_ms) FILTER (WHERE status <> 'dialing' AND duration_ms IS NOT NULL) AS avg_ms,
              count(*) FILTER (WHERE started_at > $2::timestamptz - make_interval(secs => $3)
                                 AND started_at <= $2::timestamptz) AS recent,
              min(started_at) FILTER (WHERE started_at > $2::timestamptz - make_interval(secs => $3)
                                 AND started_at <= $2::timestamptz) AS recent_first
         FROM call_attempts WHERE campaign_id = $1
     )
     SELECT camp.name, camp.status, camp.timezone, camp.config,
            (SELECT count(*) FROM ct) AS total,
            (SELECT count(*) FROM ct WHERE status = 'pending') AS pending,
            (SELECT count(*) FROM ct WHERE status = 'queued') AS queued,
            (SELECT count(*) FROM ct WHERE status = 'dialing') AS dialing,
            (SELECT count(*) FROM ct WHERE status = 'done') AS done,
            (SELECT count(*) FROM ct WHERE status = 'failed') AS failed,
            (SELECT count(*) FROM ct WHERE status IN ('pending', 'queued', 'dialing') AND NOT listed) AS remaining_min,
            (SELECT sum(greatest(camp.max_attempts - attempts, 1)) FROM ct
              WHERE status IN ('pending', 'queued', 'dialing') AND NOT listed) AS remaining_max,
            (SELECT count(*) FROM ct WHERE listed) AS blacklisted,
            ca.attempts, ca.finished, ca.answered, ca.machines, ca.avg_ms, ca.recent, ca.recent_first,
            (SELECT count(*) FROM donations WHERE campaign_id = $1) AS donations
       FROM camp, ca`,
    [campaignId, now, OBSERVED_RATE_WINDOW_SECONDS],
  )
  const r = rows[0]
  if (!r) throw new CampaignNotFoundError(campaignId)
  return r
}

/** Whether the calling window is open now, and when it opens next (campaign time zone). */
function windowState(
  now: Date,
  config: CampaignConfig,
  timezone: string,
): { open: boolean; opening: Date | null } {
  try {
    return {
      open: isWithinCallingWindow(now, config.callingWindows, timezone),
      opening: nextWindowOpening(now, config.callingWindows, timezone),
    }
  } catch {
    // bad time zone or windows that never open: shown as closed, with no opening
    return { open: false, opening: null }
  }
}

/** The dialing rate the ETA uses: observed while active and dialing, else the configured bound. */
function paceOf(r: StatsRow, now: Date, maxConcurrentCalls: number, cpsLimit: number): CampaignStats['pace'] {
  const avgCallSeconds = r.avg_ms === null ? DEFAULT_CALL_SECONDS : Math.max(Number(r.avg_ms) / 1000, 1)
  const concurrencyRate = maxConcurrentCalls / avgCallSeconds
  const configuredRate = Math.min(Math.max(cpsLimit, 0), concurrencyRate)
  const recent = Number(r.recent)
  // Over the window, or since the first dial in it when that is shorter (at least 1 s).
  const observedSeconds =
    recent > 0 && r.recent_first
      ? Math.min(OBSERVED_RATE_WINDOW_SECONDS, Math.max(1, (now.getTime() - r.recent_first.getTime()) / 1000))
      : null
  // A campaign that is dialing shows what it really achieves (retries, queue wait, call length);
  // before its first dials the configured bound is all there is.
  if (recent > 0 && r.status === 'active') {
    const observedRate = recent / (observedSeconds ?? OBSERVED_RATE_WINDOW_SECONDS)
    return {
      cpsLimit,
      maxConcurrentCalls,
      avgCallSeconds,
      concurrencyRate,
      observedRate,
      observedSeconds,
      rate: Math.min(observedRate, configuredRate || observedRate),
      rateSource: 'observed',
    }
  }
  return {
    cpsLimit,
    maxConcurrentCalls,
    avgCallSeconds,
    concurrencyRate,
    observedRate: recent > 0 ? recent / (observedSeconds ?? OBSERVED_RATE_WINDOW_SECONDS) : null,
    observedSeconds,
    rate: configuredRate,
    rateSource: 'configured',
  }
}
