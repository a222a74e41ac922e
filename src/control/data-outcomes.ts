import type { DataContext } from './data-modules.js'
import type { OutcomeCount, RunProgress } from './port.js'

/** The outcomes area of the data layer (DataPlane): what became of pushed tasks and finished calls. */

/**
 * What became of the tasks of `campaignId` pushed since `since`: outcomes from task_outcomes,
 * send → dial latency from call_attempts.started_at against the send time of each contact.
 */
export async function runProgress(
  { pool }: DataContext,
  campaignId: string,
  contactPrefix: string,
  since: Date,
  sentAt: Map<string, number>,
): Promise<RunProgress> {
  // Final outcomes without a dial are kept apart by stage and reason code (the text before ':').
  const { rows: outcomes } = await pool.query<{
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
  const { rows: dials } = await pool.query<{ contact_id: string; started_at: Date }>(
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
    deferred: count('deferred'),
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
export async function answerRate(
  { pool, now }: DataContext,
  minutes: number,
): Promise<{ answerRate: number | null; sample: number }> {
  const { rows } = await pool.query<{ answered: string; finished: string }>(
    `SELECT count(*) FILTER (WHERE status = 'answered') AS answered, count(*) AS finished
       FROM call_attempts WHERE status <> 'dialing' AND ended_at >= $1`,
    [new Date(now().getTime() - minutes * 60_000)],
  )
  const finished = Number(rows[0]?.finished ?? 0)
  return { answerRate: finished > 0 ? Number(rows[0]!.answered) / finished : null, sample: finished }
}

/** Task outcomes of the last `minutes`, grouped by stage, outcome, reason and campaign (at most 200). */
export async function recentOutcomes({ pool, now }: DataContext, minutes: number): Promise<OutcomeCount[]> {
  const { rows } = await pool.query<{
    stage: string
    outcome: string
    reason: string | null
    campaign_id: string | null
    n: string
  }>(
    `SELECT stage, outcome, reason, campaign_id, count(*) AS n FROM task_outcomes
      WHERE at >= $1 GROUP BY stage, outcome, reason, campaign_id ORDER BY count(*) DESC LIMIT 200`,
    [new Date(now().getTime() - minutes * 60_000)],
  )
  return rows.map((r) => ({
    stage: r.stage,
    outcome: r.outcome,
    reason: r.reason,
    campaignId: r.campaign_id,
    count: Number(r.n),
  }))
}
