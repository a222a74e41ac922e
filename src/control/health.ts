import type { PipeDescription, PipeMetrics, QueueDepth } from './port.js'

/** The seed's alarm threshold: failed executions above 5% of executions. */
export const PIPE_FAILURE_RATE_ALARM = 0.05
/** A message older than this while the pipe runs means nothing consumes the queue. */
export const STUCK_AGE_SECONDS = 300

/** Failed executions over executions in the metrics' window; 0 when there were none. */
export function pipeFailureRate(metrics: PipeMetrics): number {
  return metrics.executions > 0 ? metrics.failures / metrics.executions : 0
}

export interface Health {
  healthy: boolean
  /** why it is unhealthy (empty when healthy) */
  problems: string[]
  /** worth knowing, not unhealthy */
  warnings: string[]
}

/** Is the pipe delivering? Pure, so `pipe status`, `status` and `doctor` judge alike. */
export function pipeHealth(
  pipe: PipeDescription,
  metrics: PipeMetrics | undefined,
  queue: QueueDepth | undefined,
  dlq: QueueDepth | undefined,
): Health {
  const problems: string[] = []
  const warnings: string[] = []
  if (pipe.state !== 'RUNNING') {
    problems.push(
      `pipe is ${pipe.state}` +
        (pipe.desiredState !== pipe.state ? ` (desired ${pipe.desiredState})` : '') +
        (pipe.stateReason ? `: ${pipe.stateReason}` : ''),
    )
  } else if (pipe.desiredState !== 'RUNNING') {
    warnings.push(`pipe is RUNNING but its desired state is ${pipe.desiredState}`)
  }
  if (metrics) {
    const rate = pipeFailureRate(metrics)
    if (rate > PIPE_FAILURE_RATE_ALARM)
      problems.push(
        `${metrics.failures} of ${metrics.executions} executions failed in the last ${metrics.windowMinutes} min (${(rate * 100).toFixed(1)}% > ${PIPE_FAILURE_RATE_ALARM * 100}%)`,
      )
  }
  if (queue && pipe.state === 'RUNNING' && queue.visible > 0 && queue.oldestAgeSeconds > STUCK_AGE_SECONDS)
    problems.push(
      `${queue.visible} messages waiting, the oldest for ${Math.round(queue.oldestAgeSeconds)} s: the pipe is not consuming`,
    )
  if (dlq && dlq.visible + dlq.inFlight > 0)
    warnings.push(`${dlq.visible + dlq.inFlight} messages in the DLQ (dialctl dlq list)`)
  return { healthy: problems.length === 0, problems, warnings }
}
