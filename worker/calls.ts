/**
 * The calls this worker runs: the process-wide and per-campaign counts the caps are checked
 * against, the background promises a drain waits for, and the draining flag.
 *
 * A slot is taken before the first await of a dial, so concurrent requests cannot both pass the
 * cap check; it is given back on duplicate / refusal / error, or when the call ends.
 */
export class WorkerCalls {
  active = 0
  readonly byCampaign = new Map<string, number>()
  /** the background call promises, for close() to wait on */
  readonly running = new Set<Promise<void>>()
  /** call ids running here now (an uncertain claim is never adopted while its call runs) */
  readonly runningIds = new Set<string>()
  /** set by close(): POST /dial answers 503 from then on */
  draining = false
  private idleWaiters: (() => void)[] = []

  /** calls of `campaignId` running here */
  ofCampaign(campaignId: string): number {
    return this.byCampaign.get(campaignId) ?? 0
  }

  take(campaignId: string): void {
    this.active++
    this.byCampaign.set(campaignId, this.ofCampaign(campaignId) + 1)
  }

  release(campaignId: string): void {
    this.active--
    const left = (this.byCampaign.get(campaignId) ?? 1) - 1
    if (left <= 0) this.byCampaign.delete(campaignId)
    else this.byCampaign.set(campaignId, left)
    if (this.active === 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /** Resolves when no call is active. */
  idle(): Promise<void> {
    return this.active === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Waits for the running calls, at most `timeoutMs`. @returns true when all ended in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      Promise.allSettled([...this.running]).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs)
      }),
    ])
    clearTimeout(timer)
    return drained
  }
}
