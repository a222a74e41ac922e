import type { MetricsPort } from '../dialer/ports.js'
import { MetricName } from '../observability/metrics.js'
import type { PipeCounters } from './state.js'

/** What receives the target's counts: LocalPipe.addTargetCounters. */
export interface TargetCounterSink {
  addTargetCounters(counters: Partial<Pick<PipeCounters, 'tasksDialed' | 'workerDeferrals'>>): void
}

/**
 * The local stack's metrics store for the dialer (on AWS: CloudWatch through Powertools/EMF): the
 * two counts health needs per minute — dials the worker accepted, and tasks deferred because the
 * worker answered 429 / 503 draining — go into the pipe's per-minute counters (pipe_metrics).
 * Other metrics have no local store. `sink()` is read at each metric, so the dialer may be built
 * before the pipe it reports through.
 */
export function pipeTargetMetrics(sink: () => TargetCounterSink | undefined): MetricsPort {
  return {
    addMetric(name, _unit, value) {
      if (value === 0) return
      if (name === MetricName.DialedTasks) sink()?.addTargetCounters({ tasksDialed: value })
      else if (name === MetricName.WorkerDeferrals) sink()?.addTargetCounters({ workerDeferrals: value })
    },
  }
}
