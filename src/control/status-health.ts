import { isWarningAlarm } from '../observability/metrics.js'
import type { Observations } from './doctor.js'
import { pipeHealth } from './health.js'
import { unreadableObservations } from './unreadable.js'
import { judgeDlq, judgeRateLimiting, judgeWorker } from './verdicts.js'

export interface StatusHealth {
  /** why the stage is unhealthy (`status` exits 3) */
  problems: string[]
  /** worth knowing, not unhealthy: a fresh limit cut or hold, old dead letters */
  warnings: string[]
}

/**
 * `status`'s one-line health, from the same observations and verdicts as `doctor` (verdicts.ts):
 * red for a pipe that does not deliver, a worker refusing every dial, unreadable stores, degraded or stalled pacing, a cut or
 * hold starving demand, a growing DLQ, alarms; a backlog deferred and dialed at the limit is ok.
 * A store or worker down, or any observation unreadable (unreadable.ts), is red: unknown is not green.
 */
export function statusHealth(o: Observations): StatusHealth {
  const problems: string[] = []
  const warnings: string[] = []
  for (const u of unreadableObservations(o)) problems.push(`${u.what}: ${u.detail} (${u.fix})`)
  if (o.pipe instanceof Error) problems.push(`pipe: ${o.pipe.message}`)
  else
    problems.push(
      ...pipeHealth(
        o.pipe,
        o.pipeMetrics instanceof Error ? undefined : o.pipeMetrics,
        o.queue instanceof Error ? undefined : o.queue,
        undefined,
      ).problems,
    )
  if (!(o.pipeMetrics instanceof Error)) {
    const verdict = judgeWorker(o.pipeMetrics, o.workerUrl)
    if (verdict.status === 'fail') problems.push(`worker refusing dials: ${verdict.detail} (${verdict.fix})`)
    else if (verdict.status === 'warn') warnings.push(`worker busy: ${verdict.detail}`)
  }
  if (o.pacing instanceof Error) problems.push(`pacing: ${o.pacing.message}`)
  else {
    if (o.pacing.degraded) problems.push('pacing degraded: dialers cannot reach Redis')
    const verdict = judgeRateLimiting({
      pacing: o.pacing,
      ...(o.audit && !(o.audit instanceof Error) ? { audit: o.audit } : {}),
      active:
        o.campaigns instanceof Error
          ? []
          : o.campaigns.filter((x) => x.status === 'active').map((x) => x.campaignId),
      now: o.at ?? new Date(),
      kind: o.kind,
    })
    if (verdict.status === 'fail')
      problems.push(`rate limiting ${verdict.rule}: ${verdict.cause ?? verdict.detail} (dialctl doctor)`)
    else if (verdict.status === 'warn') warnings.push(verdict.cause ?? verdict.detail)
  }
  if (!(o.dlq instanceof Error)) {
    const verdict = judgeDlq(o.dlq, o.outcomes instanceof Error ? undefined : o.outcomes, o.kind)
    if (verdict.status === 'fail') problems.push(`DLQ ${verdict.rule}: ${verdict.detail} (dialctl dlq list)`)
    else if (verdict.status === 'warn') warnings.push(`DLQ: ${verdict.detail} (dialctl dlq list)`)
  }
  if (!(o.alarms instanceof Error)) {
    const red = o.alarms.filter((a) => !isWarningAlarm(a.name))
    if (red.length) problems.push(`${red.length} alarm(s) in ALARM (dialctl doctor)`)
    if (red.length < o.alarms.length) warnings.push('CPS near the limit (pacing at the limit is healthy)')
  }
  return { problems, warnings }
}
