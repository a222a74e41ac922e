import { OperatorError } from '../errors.js'
import { finishedAdvice } from '../campaigns/next-step.js'
import { maskPhonesIn } from '../observability/mask.js'
import { isWarningAlarm } from '../observability/metrics.js'
import type { Check, Observations } from './doctor.js'
import { PIPE_FAILURE_RATE_ALARM, pipeFailureRate, pipeHealth } from './health.js'
import type { PipeDescription, PipeMetrics } from './port.js'
import { judgeDlq, judgeRateLimiting, judgeWorker, type Verdict } from './verdicts.js'

/**
 * The phases of `diagnose` (doctor.ts), one per troubleshooting entry of the seed. Each is pure:
 * observations in, checks out; a read that failed becomes a failed check, never a throw.
 */

/** Share of enrich drops over all enrich outcomes that is worth a look. */
export const DROP_SHARE_WARN = 0.05
/** Look-back of the media-failure check: the media guard's window (DEFAULT_MEDIA_GUARD, media-health.ts). */
export const MEDIA_WINDOW_MINUTES = 15

const PERMISSION = /AccessDenied|not authorized|permission|UnauthorizedOperation|KMS/i

export function errorText(e: Error): string {
  return maskPhonesIn(e instanceof OperatorError ? `${e.message} (${e.suggestion})` : e.message)
}

/** Where the operator reads the consumers' errors on this kind of stage. */
export function logsHint(o: Observations): string {
  return o.kind === 'aws'
    ? `aws logs tail /aws/lambda/<dialer or enrich function of stage ${o.stage}> --follow`
    : 'read the `dialctl dev` log'
}

const unlessOk = (ok: boolean, advice: { cause: string; fix: string }) => (ok ? {} : advice)

/** Connectivity (enrichment failures: PostgreSQL; rate limiting: Redis; the local worker). */
export function connectivityChecks(o: Observations): Check[] {
  if (o.reach instanceof Error)
    return [
      {
        id: 'stores',
        issue: 'connectivity',
        title: 'PostgreSQL and Redis',
        status: 'fail',
        detail: errorText(o.reach),
      },
    ]
  const { postgres, redis, worker } = o.reach
  const checks: Check[] = [
    {
      id: 'postgres',
      issue: 'enrichment-failures',
      title: 'PostgreSQL reachable',
      status: postgres ? 'ok' : 'fail',
      detail: postgres ? 'answers' : 'does not answer',
      ...unlessOk(postgres, {
        cause: 'enrich cannot load campaigns: every task is dropped or retried',
        fix: 'start PostgreSQL or fix DATABASE_URL; then `dialctl doctor` again',
      }),
    },
    {
      id: 'redis',
      issue: 'high-rate-limiting',
      title: 'Redis reachable',
      status: redis ? 'ok' : 'fail',
      detail: redis ? 'answers' : 'does not answer',
      ...unlessOk(redis, {
        cause: 'dialers fall back to their small local limit (degraded mode): throughput collapses',
        fix: 'start Redis or fix REDIS_URL (redis-server --daemonize yes)',
      }),
    },
  ]
  if (worker !== undefined)
    checks.push({
      id: 'worker',
      issue: 'messages-stuck',
      title: 'Worker reachable',
      status: worker ? 'ok' : 'fail',
      detail: worker ? 'GET /health ok' : 'GET /health failed (DIALCTL_WORKER_URL)',
      ...unlessOk(worker, {
        cause: 'no worker to place the calls: dialer tasks fail and retry',
        fix: 'dialctl dev',
      }),
    })
  return checks
}

/** Why a pipe that does not run does not, and what starts it. */
function pipeAdvice(o: Observations, pipe: PipeDescription): { cause: string; fix: string } {
  if (pipe.stateReason !== undefined && PERMISSION.test(pipe.stateReason))
    return {
      cause: "the pipe's role lacks a permission on its source, enrichment or target",
      fix: `redeploy the stage's IAM (sst deploy --stage ${o.stage}), then dialctl pipe start --wait`,
    }
  if (pipe.desiredState === 'STOPPED')
    return { cause: 'the pipe was stopped (disabled)', fix: `dialctl pipe start --wait --stage ${o.stage}` }
  if (pipe.state.endsWith('FAILED'))
    return { cause: `the pipe is ${pipe.state}`, fix: `read the reason above; sst deploy --stage ${o.stage}` }
  return o.kind === 'local'
    ? { cause: 'no local pipe runner', fix: 'dialctl dev' }
    : { cause: `the pipe is ${pipe.state}`, fix: 'wait, then dialctl pipe status' }
}

/** Messages stuck in the queue: pipe disabled, consumer errors, missing permissions. */
/** A worker that answers 429 / 503 draining to every POST /dial (verdicts.ts judgeWorker). */
function workerCheck(m: PipeMetrics, workerUrl: string | undefined): Check {
  const v = judgeWorker(m, workerUrl)
  return {
    id: 'worker-refusing',
    issue: 'messages-stuck',
    title: 'Worker accepting dials',
    status: v.status,
    detail: v.detail,
    ...(v.cause ? { cause: v.cause } : {}),
    ...(v.fix ? { fix: v.fix } : {}),
  }
}

export function pipeChecks(o: Observations): Check[] {
  if (o.pipe instanceof Error)
    return [
      {
        id: 'pipe-state',
        issue: 'messages-stuck',
        title: 'Pipe state',
        status: 'fail',
        detail: errorText(o.pipe),
        cause: PERMISSION.test(o.pipe.message)
          ? 'your credentials may not describe the pipe'
          : 'the pipe cannot be read',
        fix:
          o.kind === 'local'
            ? 'dialctl dev'
            : `check --stage/--region/--profile; sst deploy --stage ${o.stage}`,
      },
    ]
  const pipe = o.pipe
  const running = pipe.state === 'RUNNING'
  const checks: Check[] = [
    {
      id: 'pipe-state',
      issue: 'messages-stuck',
      title: 'Pipe running',
      status: running ? 'ok' : 'fail',
      detail: `${pipe.state} (desired ${pipe.desiredState})${pipe.stateReason ? `: ${pipe.stateReason}` : ''}`,
      ...(running ? {} : pipeAdvice(o, pipe)),
    },
  ]
  if (!(o.pipeMetrics instanceof Error)) {
    const m = o.pipeMetrics
    const failing = pipeFailureRate(m) > PIPE_FAILURE_RATE_ALARM
    checks.push({
      id: 'pipe-failures',
      issue: 'messages-stuck',
      title: 'Consumer errors (pipe executions failing)',
      status: failing ? 'fail' : 'ok',
      detail: `${m.failures} of ${m.executions} executions failed in the last ${m.windowMinutes} min`,
      ...unlessOk(!failing, {
        cause: 'the enrich or dialer function throws: whole batches are retried, then sent to the DLQ',
        fix: logsHint(o),
      }),
    })
    checks.push(workerCheck(m, o.workerUrl))
  }
  if (!(o.queue instanceof Error)) {
    const stuck = pipeHealth(pipe, undefined, o.queue, undefined).problems.some((p) =>
      p.includes('not consuming'),
    )
    checks.push({
      id: 'queue-age',
      issue: 'messages-stuck',
      title: 'Queue draining',
      status: stuck ? 'fail' : 'ok',
      detail: `${o.queue.visible} visible, ${o.queue.inFlight} in flight, oldest ${Math.round(o.queue.oldestAgeSeconds)} s`,
      ...unlessOk(!stuck, {
        cause: 'the pipe runs but does not consume: consumer errors or missing permissions',
        fix: `${logsHint(o)}; check the pipe role (sst deploy --stage ${o.stage})`,
      }),
    })
  }
  return checks
}

/** A verdict as a check: cause and fix only when it is not ok. */
function fromVerdict(v: Verdict): Pick<Check, 'status' | 'detail' | 'cause' | 'fix'> {
  return {
    status: v.status,
    detail: v.detail,
    ...(v.status !== 'ok' && v.cause ? { cause: v.cause } : {}),
    ...(v.status !== 'ok' && v.fix ? { fix: v.fix } : {}),
  }
}

/** High rate limiting (verdicts.ts's rules: deferral is not failure) and degraded pacing. */
export function pacingChecks(o: Observations): Check[] {
  if (o.pacing instanceof Error)
    return [
      {
        id: 'rate-limiting',
        issue: 'high-rate-limiting',
        title: 'Rate limiting',
        status: 'fail',
        detail: errorText(o.pacing),
      },
    ]
  const p = o.pacing
  const active = o.campaigns instanceof Error ? [] : o.campaigns.filter((c) => c.status === 'active')
  const verdict = judgeRateLimiting({
    pacing: p,
    ...(o.audit && !(o.audit instanceof Error) ? { audit: o.audit } : {}),
    active: active.map((c) => c.campaignId),
    now: o.at ?? new Date(),
    kind: o.kind,
  })
  return [
    {
      id: 'rate-limiting',
      issue: 'high-rate-limiting',
      title: 'Rate limiting (last 60 s)',
      ...fromVerdict(verdict),
    },
    {
      id: 'degraded',
      issue: 'high-rate-limiting',
      title: 'Pacing not degraded',
      status: p.degraded ? 'fail' : 'ok',
      detail: p.degraded
        ? 'dialers pace on their local fallback limit'
        : 'dialers pace on the shared Redis limit',
      ...unlessOk(!p.degraded, {
        cause: 'dialers cannot reach Redis',
        fix: 'restore Redis (check the endpoint and security groups)',
      }),
    },
  ]
}

/** Enrichment failures: tasks naming a missing or invalid campaign (last 15 min). */
export function enrichmentChecks(o: Observations): Check[] {
  if (o.outcomes instanceof Error)
    return [
      {
        id: 'enrichment',
        issue: 'enrichment-failures',
        title: 'Outcomes (last 15 min)',
        status: 'fail',
        detail: `unreadable: ${errorText(o.outcomes)}`,
        cause: 'enrichment failures and DLQ growth cannot be judged',
        fix: 'start PostgreSQL or fix DATABASE_URL; then dialctl doctor',
      },
    ]
  const enrich = o.outcomes.filter((x) => x.stage === 'enrich')
  const total = enrich.reduce((s, x) => s + x.count, 0)
  const notFound = enrich.filter((x) => x.reason === 'campaign_not_found')
  const invalid = enrich.filter((x) => x.reason?.startsWith('campaign_invalid') || x.reason === 'malformed')
  const bad = [...notFound, ...invalid]
  const badCount = bad.reduce((s, x) => s + x.count, 0)
  const advice = notFound.length
    ? {
        cause: `tasks name campaigns that do not exist: ${[...new Set(notFound.map((x) => x.campaignId))].join(', ')}`,
        fix: 'dialctl campaign list; create the campaign (dialctl campaign create --file …) or fix the producer of these tasks',
      }
    : {
        cause: 'a stored campaign or the tasks do not match the schema',
        // No update command exists: create refuses an existing id, so the fix is a copy under a new id.
        fix: 'dialctl campaign show ID; fix its file under a new "id" and create that (dialctl campaign create --file …), then dialctl campaign cancel ID --reason "invalid config"',
      }
  return [
    {
      id: 'enrichment',
      issue: 'enrichment-failures',
      title: 'Enrichment finds its campaigns (last 15 min)',
      status: badCount === 0 ? 'ok' : badCount / Math.max(total, 1) > DROP_SHARE_WARN ? 'fail' : 'warn',
      detail:
        badCount === 0
          ? `${total} enrich outcomes, none for a missing or invalid campaign`
          : bad.map((x) => `${x.count} × ${x.reason} (${x.campaignId ?? 'no campaign'})`).join(', '),
      ...unlessOk(badCount === 0, advice),
    },
  ]
}

/** The DLQ (verdicts.ts): growing fails, old dead letters warn. */
export function dlqChecks(o: Observations): Check[] {
  if (o.dlq instanceof Error)
    return [
      {
        id: 'dlq',
        issue: 'dlq',
        title: 'Dead-letter queue',
        status: 'fail',
        detail: `unreadable: ${errorText(o.dlq)}`,
        cause: 'the DLQ cannot be read: dead letters may be accumulating unseen',
        fix: 'dialctl dlq list',
      },
    ]
  const n = o.dlq.visible + o.dlq.inFlight
  const verdict = judgeDlq(o.dlq, o.outcomes instanceof Error ? undefined : o.outcomes, o.kind)
  return [
    {
      id: 'dlq',
      issue: 'dlq',
      title:
        n === 0 ? 'Dead-letter queue empty' : `Dead-letter queue holds ${n} message${n === 1 ? '' : 's'}`,
      ...fromVerdict(verdict),
    },
  ]
}

/** Campaigns with nothing left to dial: not an end, but the operator decides what is next. */
export function campaignChecks(o: Observations): Check[] {
  if (o.campaigns instanceof Error)
    return [
      {
        id: 'campaigns',
        issue: 'campaigns',
        title: 'Campaigns',
        status: 'fail',
        detail: `unreadable: ${errorText(o.campaigns)}`,
        cause: 'active campaigns cannot be listed: pacing and finished campaigns cannot be judged',
        fix: 'dialctl campaign list',
      },
    ]
  const finished = o.campaigns.filter(
    (c) => c.allContactsFinished && (c.status === 'active' || c.status === 'paused'),
  )
  if (!finished.length) return []
  const first = finished[0]!
  return [
    {
      id: 'campaigns-finished',
      issue: 'campaigns',
      title: `${finished.length} campaign${finished.length === 1 ? ' has' : 's have'} every contact finished`,
      status: 'warn',
      detail: finished
        .map((c) => `${c.campaignId} (${c.status}, ${c.contacts.done} done, ${c.contacts.failed} failed)`)
        .join(', '),
      cause: 'every contact is done or failed; the campaign stays open to new contacts until completed',
      fix: finishedAdvice(first),
    },
  ]
}

/** CloudWatch alarms (AWS stages only). */
export function alarmChecks(o: Observations): Check[] {
  if (o.kind !== 'aws') return []
  if (o.alarms instanceof Error)
    return [
      {
        id: 'alarms',
        issue: 'alarms',
        title: 'CloudWatch alarms',
        status: 'fail',
        detail: errorText(o.alarms),
      },
    ]
  const alarms = o.alarms
  const red = alarms.filter((a) => !isWarningAlarm(a.name))
  return [
    {
      id: 'alarms',
      issue: 'alarms',
      title: 'No CloudWatch alarm in ALARM',
      // a warning alarm (CPS near the limit) is pacing at the limit: worth knowing, not unhealthy
      status: alarms.length === 0 ? 'ok' : red.length ? 'fail' : 'warn',
      detail: alarms.length === 0 ? 'none' : alarms.map((a) => a.name).join(', '),
      ...(alarms.length
        ? { cause: alarms[0]!.reason ?? 'see the alarm', fix: 'dialctl status; the checks above' }
        : {}),
    },
  ]
}
