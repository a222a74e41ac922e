/**
 * Pacing against demand: the dispatcher queues no more than the campaign's concurrency and the
 * current CPS can drain within a bounded horizon. Tasks waiting in the queue go stale (a pause, a
 * slower limit, a closing window): the less we queue ahead, the less enrich has to release.
 */
export interface CapacityInput {
  /** the campaign's maxConcurrentCalls */
  maxConcurrentCalls: number
  /** the live calls-per-second limit */
  cpsLimit: number
  /** seconds of dialing the queue may hold ahead of the dialer */
  horizonSeconds: number
  /** the campaign's contacts already queued or dialing */
  inflight: number
  /** hard cap per run (bounds one transaction and one run's memory) */
  maxPerRun: number
}

/** How many contacts one run may claim for one campaign: never negative. */
export function campaignCapacity(input: CapacityInput): number {
  const drainable = Math.floor(Math.max(0, input.cpsLimit) * Math.max(0, input.horizonSeconds))
  const bound = Math.min(input.maxConcurrentCalls, drainable) - input.inflight
  return Math.max(0, Math.min(bound, input.maxPerRun))
}

/**
 * The CPS limit is shared by every campaign: all of them together should not queue more than the
 * limit drains within the horizon (minus what already waits in the queue).
 */
export function globalBudget(cpsLimit: number, horizonSeconds: number, queuedAllCampaigns: number): number {
  return Math.max(0, Math.floor(Math.max(0, cpsLimit) * Math.max(0, horizonSeconds)) - queuedAllCampaigns)
}
