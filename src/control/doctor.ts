import { z } from 'zod'
import { explainConnectionError } from '../errors.js'
import {
  alarmChecks,
  campaignChecks,
  connectivityChecks,
  dlqChecks,
  enrichmentChecks,
  MEDIA_WINDOW_MINUTES,
  pacingChecks,
  pipeChecks,
} from './doctor-checks.js'
import { mediaChecks } from './doctor-media.js'
import type {
  Alarm,
  AuditEntry,
  CampaignSummary,
  ControlPlane,
  OutcomeCount,
  PacingSnapshot,
  PipeDescription,
  PipeMetrics,
  QueueDepth,
  Reachability,
  CampaignMedia,
} from './port.js'
import { checkAudioUrl, type AudioCheck } from '../telephony/audio-check.js'

export const CheckStatus = z.enum(['ok', 'warn', 'fail', 'skip'])
export const Check = z.object({
  id: z.string(),
  /** the seed's troubleshooting issue this check belongs to */
  issue: z.enum([
    'connectivity',
    'messages-stuck',
    'high-rate-limiting',
    'enrichment-failures',
    'dlq',
    'alarms',
    'campaigns',
    'media',
  ]),
  title: z.string(),
  status: CheckStatus,
  detail: z.string(),
  /** the likely cause, when not ok */
  cause: z.string().optional(),
  /** the command (or step) that fixes it */
  fix: z.string().optional(),
})
export type Check = z.infer<typeof Check>

export const DoctorReport = z.object({
  stage: z.string(),
  healthy: z.boolean(),
  checks: z.array(Check),
})
export type DoctorReport = z.infer<typeof DoctorReport>

export interface Observations {
  stage: string
  kind: 'local' | 'aws'
  reach: Reachability | Error
  pipe: PipeDescription | Error
  pipeMetrics: PipeMetrics | Error
  queue: QueueDepth | Error
  dlq: QueueDepth | Error
  pacing: PacingSnapshot | Error
  campaigns: CampaignSummary[] | Error
  outcomes: OutcomeCount[] | Error
  alarms: Alarm[] | Error
  /** active and paused campaigns' audio and media health (last MEDIA_WINDOW_MINUTES) */
  media: CampaignMedia[] | Error
  /** each audio URL of those campaigns, checked as Asterisk will fetch it */
  audio: AudioCheck[]
  /** the pacing audit, newest first (who set which limit when); absent when not read */
  audit?: AuditEntry[] | Error
  /** when the observations were made (the audit's "recent" is measured from it) */
  at?: Date
  /** where the dialers POST /dial, when the stage knows it */
  workerUrl?: string
}

/** Look-back of the media-failure check and of the outcomes read (minutes). */
export { MEDIA_WINDOW_MINUTES } from './doctor-checks.js'
export { RATE_LIMITED_ALARM } from './verdicts.js'

// A store's failure is named as the store's (StoreUnavailableError), whichever read met it.
const settle = <T>(p: Promise<T>): Promise<T | Error> =>
  p.catch((e: unknown) => explainConnectionError(e) ?? (e instanceof Error ? e : new Error(String(e))))

/** Everything the checks need, gathered in parallel; a failed read is kept as its error. */
export async function observe(plane: ControlPlane): Promise<Observations> {
  const at = new Date()
  const [reach, pipe, pipeMetrics, queue, dlq, pacing, campaigns, outcomes, alarms, audit, media] =
    await Promise.all([
      settle(plane.ping()),
      settle(plane.describePipe()),
      settle(plane.pipeMetrics(5)),
      settle(plane.queueDepth()),
      settle(plane.dlqDepth()),
      settle(plane.pacing()),
      settle(plane.listCampaigns()),
      settle(plane.recentOutcomes(15)),
      settle(plane.alarms()),
      settle(plane.limitHistory(20)),
      settle(plane.campaignMedia(MEDIA_WINDOW_MINUTES)),
    ])
  const urls = media instanceof Error ? [] : [...new Set(media.flatMap((m) => m.audioUrls))]
  const audio = await Promise.all(urls.map((url) => checkAudioUrl(url)))
  return {
    stage: plane.stage,
    kind: plane.kind,
    reach,
    pipe,
    pipeMetrics,
    queue,
    dlq,
    pacing,
    campaigns,
    outcomes,
    alarms,
    audit,
    at,
    media,
    audio,
    ...(plane.workerUrl ? { workerUrl: plane.workerUrl } : {}),
  }
}

/**
 * The seed's troubleshooting guide as checks, one phase per entry (doctor-checks.ts): connectivity,
 * "messages stuck in SQS" (pipe disabled, consumer errors, IAM permissions), "high rate limiting"
 * (verdicts.ts: deferral is healthy unless stalled or starved by a cut), "enrichment failures"
 * (PostgreSQL, campaign not found), the DLQ, campaign audio, finished campaigns, alarms.
 * Pure: observations in, verdicts out; healthy unless a check failed.
 */
export function diagnose(o: Observations): DoctorReport {
  const checks: Check[] = [
    ...connectivityChecks(o),
    ...pipeChecks(o),
    ...pacingChecks(o),
    ...enrichmentChecks(o),
    ...dlqChecks(o),
    ...mediaChecks(o),
    ...campaignChecks(o),
    ...alarmChecks(o),
  ]
  return { stage: o.stage, healthy: checks.every((c) => c.status !== 'fail'), checks }
}
