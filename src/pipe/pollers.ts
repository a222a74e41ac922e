/**
 * How many batches the local pipe keeps in flight, scaled with the backlog the way Lambda's SQS
 * poller does for the dialer on AWS: "When messages are available, Lambda starts processing five
 * batches at a time with five concurrent invocations of your function. If messages are still
 * available, Lambda increases the number of processes that are reading batches by up to 300 more
 * instances per minute. […] When traffic is low, Lambda scales back" (AWS Lambda Developer Guide,
 * "Configuring scaling behavior for SQS event source mappings",
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
 *
 * Why it matters for pacing (issue #12): a dialer batch lasts until its last slot (the worker
 * answers POST /dial when the call leaves), so a fixed number of pollers P caps the pipe at about
 * P × batchSize ÷ (one batch's round trip) tasks per second — 4 pollers drained a 500 CPS backlog
 * at 0.64 of the limit. Here a poller whose receive came back full (a backlog) adds one more, at
 * most one per `scaleUpIntervalMs`, up to `max`; a poller whose receive came back empty retires
 * while more than `min` run.
 */

/** Lambda adds up to 300 pollers a minute: one every 200 ms. */
export const SCALE_UP_INTERVAL_MS = 60_000 / 300

export interface PollerScaling {
  /** pollers started with the pipe, and never fewer (the pipe's `concurrency`) */
  min: number
  /** at most this many batches in flight (the pipe's `maxConcurrency`) */
  max: number
  /** at most one poller added per this many ms; default SCALE_UP_INTERVAL_MS */
  scaleUpIntervalMs?: number
}

/** A poller's loop; it returns when the pipe stops or when `retire()` told it to go. */
export type PollerLoop = (index: number) => Promise<void>

export class Pollers {
  private live = 0
  private nextIndex = 0
  private lastScaleUpMs = Number.NEGATIVE_INFINITY
  private readonly running = new Set<Promise<void>>()

  constructor(
    private readonly scaling: PollerScaling,
    private readonly loop: PollerLoop,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** pollers running now */
  get size(): number {
    return this.live
  }

  /** Starts the `min` pollers. */
  start(): void {
    while (this.live < this.scaling.min) this.spawn()
  }

  /** A receive came back full: the backlog asks for one more poller (rate-limited, capped). */
  grow(): void {
    if (this.live >= this.scaling.max) return
    const now = this.nowMs()
    if (now - this.lastScaleUpMs < (this.scaling.scaleUpIntervalMs ?? SCALE_UP_INTERVAL_MS)) return
    this.lastScaleUpMs = now
    this.spawn()
  }

  /** A receive came back empty: true if the calling poller should stop (more than `min` run). */
  retire(): boolean {
    if (this.live <= this.scaling.min) return false
    this.live--
    return true
  }

  /** Resolves when every poller has returned (the pipe stopped them); ready to start again. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running])
    this.live = 0
  }

  private spawn(): void {
    this.live++
    const run: Promise<void> = this.loop(this.nextIndex++).finally(() => this.running.delete(run))
    this.running.add(run)
  }
}
