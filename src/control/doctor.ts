import { z } from 'zod'
import { explainConnectionError, OperatorError } from '../errors.js'
import { maskPhonesIn } from '../observability/mask.js'
import { PIPE_FAILURE_RATE_ALARM, pipeFailureRate, pipeHealth } from './health.js'
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
import { checkAudioUrl, describeAudioChecks, type AudioCheck } from '../telephony/audio-check.js'

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

/** Share of rate-limited tasks above which the seed's alarm fires. */
export const RATE_LIMITED_ALARM = 0.2
/** Share of enrich drops over all enrich outcomes that is worth a look. */
export const DROP_SHARE_WARN = 0.05

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
}

/** A limit change this recent is a suspect when rate limiting is high (minutes). */
export const RECENT_CUT_MINUTES = 15

/**
 * The newest limit cut (newLimit < oldLimit) within RECENT_CUT_MINUTES before `now`, from the
 * pacing audit (newest first), or undefined. A cut explains rate limiting better than anything
 * about the campaigns: demand did not change, the limit did.
 */
export function recentLimitCut(audit: AuditEntry[], now: Date): AuditEntry | undefined {
  const since = now.getTime() - RECENT_CUT_MINUTES * 60_000
  return audit.find((e) => Date.parse(e.at) >= since && e.oldLimit !== null && e.newLimit < e.oldLimit)
}

/** Look-back of the media-failure check: the media guard's window (DEFAULT_MEDIA_GUARD, media-health.ts). */
export const MEDIA_WINDOW_MINUTES = 15

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
  }
}

function errorText(e: Error): string {
  return maskPhonesIn(e instanceof OperatorError ? `${e.message} (${e.suggestion})` : e.message)
}

const PERMISSION = /AccessDenied|not authorized|permission|UnauthorizedOperation|KMS/i

/**
 * The seed's troubleshooting guide as checks: "messages stuck in SQS" (pipe disabled, consumer
 * errors, IAM permissions), "high rate limiting" (limit vs demand, campaigns running),
 * "enrichment failures" (PostgreSQL, campaign not found). Pure: observations in, verdicts out.
 */
export function diagnose(o: Observations): DoctorReport {
  const checks: Check[] = []
  const add = (c: Check) => checks.push(c)
  const logsHint =
    o.kind === 'aws'
      ? `aws logs tail /aws/lambda/<dialer or enrich function of stage ${o.stage}> --follow`
      : 'read the `dialctl dev` log'

  // --- connectivity (enrichment failures: PostgreSQL connectivity)
  if (o.reach instanceof Error) {
    add({
      id: 'stores',
      issue: 'connectivity',
      title: 'PostgreSQL and Redis',
      status: 'fail',
      detail: errorText(o.reach),
    })
  } else {
    add({
      id: 'postgres',
      issue: 'enrichment-failures',
      title: 'PostgreSQL reachable',
      status: o.reach.postgres ? 'ok' : 'fail',
      detail: o.reach.postgres ? 'answers' : 'does not answer',
      ...(o.reach.postgres
        ? {}
        : {
            cause: 'enrich cannot load campaigns: every task is dropped or retried',
            fix: 'start PostgreSQL or fix DATABASE_URL; then `dialctl doctor` again',
          }),
    })
    add({
      id: 'redis',
      issue: 'high-rate-limiting',
      title: 'Redis reachable',
      status: o.reach.redis ? 'ok' : 'fail',
      detail: o.reach.redis ? 'answers' : 'does not answer',
      ...(o.reach.redis
        ? {}
        : {
            cause: 'dialers fall back to their small local limit (degraded mode): throughput collapses',
            fix: 'start Redis or fix REDIS_URL (redis-server --daemonize yes)',
          }),
    })
    if (o.reach.worker !== undefined)
      add({
        id: 'worker',
        issue: 'messages-stuck',
        title: 'Worker reachable',
        status: o.reach.worker ? 'ok' : 'fail',
        detail: o.reach.worker ? 'GET /health ok' : 'GET /health failed (DIALCTL_WORKER_URL)',
        ...(o.reach.worker
          ? {}
          : { cause: 'no worker to place the calls: dialer tasks fail and retry', fix: 'dialctl dev' }),
      })
  }

  // --- messages stuck: pipe disabled / consumer errors / permissions
  if (o.pipe instanceof Error) {
    const denied = PERMISSION.test(o.pipe.message)
    add({
      id: 'pipe-state',
      issue: 'messages-stuck',
      title: 'Pipe state',
      status: 'fail',
      detail: errorText(o.pipe),
      cause: denied ? 'your credentials may not describe the pipe' : 'the pipe cannot be read',
      fix:
        o.kind === 'local'
          ? 'dialctl dev'
          : `check --stage/--region/--profile; sst deploy --stage ${o.stage}`,
    })
  } else {
    const pipe = o.pipe
    const running = pipe.state === 'RUNNING'
    const permission = pipe.stateReason !== undefined && PERMISSION.test(pipe.stateReason)
    add({
      id: 'pipe-state',
      issue: 'messages-stuck',
      title: 'Pipe running',
      status: running ? 'ok' : 'fail',
      detail: `${pipe.state} (desired ${pipe.desiredState})${pipe.stateReason ? `: ${pipe.stateReason}` : ''}`,
      ...(running
        ? {}
        : permission
          ? {
              cause: "the pipe's role lacks a permission on its source, enrichment or target",
              fix: `redeploy the stage's IAM (sst deploy --stage ${o.stage}), then dialctl pipe start --wait`,
            }
          : pipe.desiredState === 'STOPPED'
            ? {
                cause: 'the pipe was stopped (disabled)',
                fix: `dialctl pipe start --wait --stage ${o.stage}`,
              }
            : pipe.state.endsWith('FAILED')
              ? {
                  cause: `the pipe is ${pipe.state}`,
                  fix: `read the reason above; sst deploy --stage ${o.stage}`,
                }
              : o.kind === 'local'
                ? { cause: 'no local pipe runner', fix: 'dialctl dev' }
                : { cause: `the pipe is ${pipe.state}`, fix: 'wait, then dialctl pipe status' }),
    })
    if (!(o.pipeMetrics instanceof Error)) {
      const m = o.pipeMetrics
      const failing = pipeFailureRate(m) > PIPE_FAILURE_RATE_ALARM
      add({
        id: 'pipe-failures',
        issue: 'messages-stuck',
        title: 'Consumer errors (pipe executions failing)',
        status: failing ? 'fail' : 'ok',
        detail: `${m.failures} of ${m.executions} executions failed in the last ${m.windowMinutes} min`,
        ...(failing
          ? {
              cause: 'the enrich or dialer function throws: whole batches are retried, then sent to the DLQ',
              fix: logsHint,
            }
          : {}),
      })
    }
    if (!(o.queue instanceof Error)) {
      const health = pipeHealth(pipe, undefined, o.queue, undefined)
      const stuck = health.problems.find((p) => p.includes('not consuming'))
      add({
        id: 'queue-age',
        issue: 'messages-stuck',
        title: 'Queue draining',
        status: stuck ? 'fail' : 'ok',
        detail: `${o.queue.visible} visible, ${o.queue.inFlight} in flight, oldest ${Math.round(o.queue.oldestAgeSeconds)} s`,
        ...(stuck
          ? {
              cause: 'the pipe runs but does not consume: consumer errors or missing permissions',
              fix: `${logsHint}; check the pipe role (sst deploy --stage ${o.stage})`,
            }
          : {}),
      })
    }
  }

  // --- high rate limiting: limit vs demand, campaigns running
  if (o.pacing instanceof Error) {
    add({
      id: 'rate-limiting',
      issue: 'high-rate-limiting',
      title: 'Rate limiting',
      status: 'fail',
      detail: errorText(o.pacing),
    })
  } else {
    const p = o.pacing
    const active = o.campaigns instanceof Error ? [] : o.campaigns.filter((c) => c.status === 'active')
    const high = p.rateLimitedShare > RATE_LIMITED_ALARM
    const attempts = p.last60.reduce((n, x) => n + x.admitted + x.rateLimited, 0)
    const cut =
      high && o.audit && !(o.audit instanceof Error) ? recentLimitCut(o.audit, o.at ?? new Date()) : undefined
    add({
      id: 'rate-limiting',
      issue: 'high-rate-limiting',
      title: 'Rate-limited share (last 60 s)',
      status: high ? 'fail' : 'ok',
      detail: `${(p.rateLimitedShare * 100).toFixed(1)}% of ${attempts} dial attempts rate-limited, limit ${p.limit.limit} cps (${p.limit.source}), ${active.length} active campaign(s)`,
      ...(high
        ? cut
          ? {
              cause: `the limit was cut from ${cut.oldLimit} to ${cut.newLimit} cps at ${cut.at} by ${cut.actor} (${cut.source}: ${cut.reason})`,
              fix: `dialctl cps history; if the cut is no longer needed: dialctl cps set ${cut.oldLimit} --reason "…" (check worker CPU first: dialctl cps auto --once --dry-run)`,
            }
          : active.length > 1
            ? {
                cause: `${active.length} campaigns share the limit (${active.map((c) => c.campaignId).join(', ')})`,
                fix: `dialctl campaign pause <lower-priority id> --reason "share the limit", or dialctl cps set N --reason "…" if the trunk and workers can take more`,
              }
            : {
                cause: `demand is above the limit of ${p.limit.limit} cps (MAX_CPS too low for this campaign)`,
                fix: 'dialctl cps set N --reason "…" (check worker CPU first: dialctl cps auto --once --dry-run)',
              }
        : {}),
    })
    add({
      id: 'degraded',
      issue: 'high-rate-limiting',
      title: 'Pacing not degraded',
      status: p.degraded ? 'fail' : 'ok',
      detail: p.degraded
        ? 'dialers pace on their local fallback limit'
        : 'dialers pace on the shared Redis limit',
      ...(p.degraded
        ? {
            cause: 'dialers cannot reach Redis',
            fix: 'restore Redis (check the endpoint and security groups)',
          }
        : {}),
    })
  }

  // --- enrichment failures: campaign not found / invalid
  if (!(o.outcomes instanceof Error)) {
    const enrich = o.outcomes.filter((x) => x.stage === 'enrich')
    const total = enrich.reduce((s, x) => s + x.count, 0)
    const notFound = enrich.filter((x) => x.reason === 'campaign_not_found')
    const invalid = enrich.filter((x) => x.reason?.startsWith('campaign_invalid') || x.reason === 'malformed')
    const bad = [...notFound, ...invalid]
    const badCount = bad.reduce((s, x) => s + x.count, 0)
    add({
      id: 'enrichment',
      issue: 'enrichment-failures',
      title: 'Enrichment finds its campaigns (last 15 min)',
      status: badCount === 0 ? 'ok' : badCount / Math.max(total, 1) > DROP_SHARE_WARN ? 'fail' : 'warn',
      detail:
        badCount === 0
          ? `${total} enrich outcomes, none for a missing or invalid campaign`
          : bad.map((x) => `${x.count} × ${x.reason} (${x.campaignId ?? 'no campaign'})`).join(', '),
      ...(badCount === 0
        ? {}
        : notFound.length
          ? {
              cause: `tasks name campaigns that do not exist: ${[...new Set(notFound.map((x) => x.campaignId))].join(', ')}`,
              fix: 'dialctl campaign list; create the campaign (dialctl campaign create --file …) or fix the producer of these tasks',
            }
          : {
              cause: 'a stored campaign or the tasks do not match the schema',
              fix: 'dialctl campaign show ID; re-save it with dialctl campaign create --file …',
            }),
    })
  }

  // --- DLQ
  if (!(o.dlq instanceof Error)) {
    const n = o.dlq.visible + o.dlq.inFlight
    add({
      id: 'dlq',
      issue: 'dlq',
      title:
        n === 0 ? 'Dead-letter queue empty' : `Dead-letter queue holds ${n} message${n === 1 ? '' : 's'}`,
      status: n === 0 ? 'ok' : 'warn',
      detail:
        n === 0
          ? 'no task failed its 3 receives'
          : `${n} task${n === 1 ? '' : 's'} failed 3 receives; the oldest arrived ${Math.round(o.dlq.oldestAgeSeconds)} s ago`,
      ...(n === 0
        ? {}
        : {
            cause: 'tasks failed 3 receives (rate limited or consumer errors)',
            fix: 'dialctl dlq list; after fixing the cause: dialctl dlq redrive --wait',
          }),
    })
  }

  // --- media: audio URLs and the media guard
  for (const c of mediaChecks(o)) add(c)
  // --- campaigns with nothing left to dial: not an end, but the operator decides what is next
  if (!(o.campaigns instanceof Error)) {
    const finished = o.campaigns.filter(
      (c) => c.allContactsFinished && (c.status === 'active' || c.status === 'paused'),
    )
    if (finished.length)
      add({
        id: 'campaigns-finished',
        issue: 'campaigns',
        title: `${finished.length} campaign${finished.length === 1 ? ' has' : 's have'} every contact finished`,
        status: 'warn',
        detail: finished
          .map((c) => `${c.campaignId} (${c.status}, ${c.contacts.done} done, ${c.contacts.failed} failed)`)
          .join(', '),
        cause: 'every contact is done or failed; the campaign stays open to new contacts until completed',
        fix: `import more (dialctl contacts import --campaign ${finished[0]!.campaignId} FILE) or close it (dialctl campaign complete ${finished[0]!.campaignId})`,
      })
  }

  // --- alarms
  if (o.kind === 'aws') {
    if (o.alarms instanceof Error)
      add({
        id: 'alarms',
        issue: 'alarms',
        title: 'CloudWatch alarms',
        status: 'fail',
        detail: errorText(o.alarms),
      })
    else
      add({
        id: 'alarms',
        issue: 'alarms',
        title: 'No CloudWatch alarm in ALARM',
        status: o.alarms.length === 0 ? 'ok' : 'fail',
        detail: o.alarms.length === 0 ? 'none' : o.alarms.map((a) => a.name).join(', '),
        ...(o.alarms.length
          ? { cause: o.alarms[0]!.reason ?? 'see the alarm', fix: 'dialctl status; the checks above' }
          : {}),
      })
  }

  return { stage: o.stage, healthy: checks.every((c) => c.status !== 'fail'), checks }
}

/**
 * Campaign audio (issue #14): each active or paused campaign's audio URLs checked as Asterisk
 * will fetch them (audio-check.ts), and campaigns the media guard paused or whose calls hit media
 * failures in the window. Each verdict names the campaign and what to do.
 */
function mediaChecks(o: Observations): Check[] {
  if (o.media instanceof Error)
    return [
      {
        id: 'campaign-audio',
        issue: 'media',
        title: 'Campaign audio plays',
        status: 'fail',
        detail: errorText(o.media),
      },
    ]
  const byUrl = new Map(o.audio.map((a) => [a.url, a]))
  const checks: Check[] = []
  const broken: string[] = []
  const warned: string[] = []
  let failActive = false
  for (const m of o.media) {
    const lines = describeAudioChecks(m.audioUrls.map((u) => byUrl.get(u)).filter((a) => a !== undefined))
    const failed = m.audioUrls.some((u) => byUrl.get(u)?.status === 'fail')
    if (failed) {
      broken.push(`${m.campaignId} (${m.status}): ${lines.join('; ')}`)
      if (m.status === 'active') failActive = true
    } else if (lines.length) warned.push(`${m.campaignId}: ${lines.join('; ')}`)
  }
  const urls = new Set(o.media.flatMap((m) => m.audioUrls)).size
  checks.push({
    id: 'campaign-audio',
    issue: 'media',
    title: 'Campaign audio plays on Asterisk',
    status: broken.length ? (failActive ? 'fail' : 'warn') : warned.length ? 'warn' : 'ok',
    detail:
      broken.length || warned.length
        ? [...broken, ...warned].join(' | ')
        : `${urls} audio URL(s) of ${o.media.length} campaign(s) checked`,
    ...(broken.length
      ? {
          cause: 'callers would hear silence: each such call is recorded failed (reason media) and retried',
          fix: 'publish an 8 kHz mono WAV at that URL with cache headers (docs/asterisk.md, "Audio"), then dialctl doctor again',
        }
      : warned.length
        ? {
            cause: 'playback may fail now and then',
            fix: 'serve the audio with Cache-Control: max-age=86400 (or an ETag)',
          }
        : {}),
  })
  const paused = o.media.filter((m) => m.status === 'paused' && m.guardPause)
  const failing = o.media.filter((m) => m.mediaFailures > 0 && !paused.includes(m))
  checks.push({
    id: 'media-failures',
    issue: 'media',
    title: `No campaign losing calls to media failures (last ${MEDIA_WINDOW_MINUTES} min)`,
    status: paused.length ? 'fail' : failing.length ? 'warn' : 'ok',
    detail:
      paused.length || failing.length
        ? [
            ...paused.map(
              (m) =>
                `${m.campaignId} paused by the media guard at ${m.guardPause!.at}: ${m.guardPause!.reason ?? ''}`,
            ),
            ...failing.map(
              (m) => `${m.campaignId}: audio failed on ${m.mediaFailures} of ${m.pickedUp} calls picked up`,
            ),
          ].join(' | ')
        : 'none',
    ...(paused.length
      ? {
          cause: 'its audio failed on most calls picked up, so the media guard paused it',
          fix: `fix the audio (check campaign-audio above), then dialctl campaign resume ${paused[0]!.campaignId}`,
        }
      : failing.length
        ? {
            cause:
              "Asterisk could not play the campaign's audio on some calls (URL, format, or its media cache)",
            fix: `dialctl campaign show ${failing[0]!.campaignId}; check the audio URL (campaign-audio above) and Asterisk's log`,
          }
        : {}),
  })
  return checks
}
