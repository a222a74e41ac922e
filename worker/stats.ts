import os from 'node:os'
import type { CallEndReason, CallOutcome } from '../src/telephony/driver.js'

/** why POST /dial placed no call; `gate`: the dial gate refused for a reason other than the blacklist */
export type Rejection =
  'unauthorized' | 'invalid' | 'capacity' | 'unavailable' | 'duplicate' | 'blacklisted' | 'gate'

/** Counters behind GET /metrics; also what the local stack's status line and the pacer read. */
export class WorkerStats {
  attempted = 0
  finished = 0
  notRecorded = 0
  readonly byOutcome: Record<CallOutcome, number> = {
    answered: 0,
    'no-answer': 0,
    busy: 0,
    congestion: 0,
    failed: 0,
    machine: 0,
  }
  /** failed calls by reason: `media` is the audio-failure metric (doctor and alarms read it) */
  readonly failedByReason: Record<CallEndReason, number> = {
    media: 0,
    'telephony-restart': 0,
    'worker-restart': 0,
  }
  readonly rejected: Record<Rejection, number> = {
    unauthorized: 0,
    invalid: 0,
    capacity: 0,
    unavailable: 0,
    duplicate: 0,
    blacklisted: 0,
    gate: 0,
  }
  private cpuSample = { at: process.hrtime.bigint(), usage: process.cpuUsage() }
  private lastCpuPercent = 0
  private sampled = false
  private readonly startedAt = Date.now()

  callEnded(status: CallOutcome, recorded: boolean, reason?: CallEndReason): void {
    this.finished++
    this.byOutcome[status]++
    if (reason) this.failedByReason[reason]++
    if (!recorded) this.notRecorded++
  }

  /**
   * CPU used by this process since the previous sample, as a percentage of one core: the event
   * loop is single-threaded, so ~100 means this worker is saturated whatever the core count.
   * Samples closer than a second apart reuse the last figure, so frequent scrapes stay stable.
   */
  cpuPercent(): number {
    const now = process.hrtime.bigint()
    const elapsedUs = Number(now - this.cpuSample.at) / 1000
    if ((this.sampled && elapsedUs < 1_000_000) || elapsedUs <= 0) return this.lastCpuPercent
    this.sampled = true
    const used = process.cpuUsage(this.cpuSample.usage)
    this.lastCpuPercent = Math.round(((used.user + used.system) / elapsedUs) * 1000) / 10
    this.cpuSample = { at: now, usage: process.cpuUsage() }
    return this.lastCpuPercent
  }

  snapshot(extra: {
    workerId: string
    driver: string
    activeCalls: number
    activeByCampaign: Record<string, number>
  }) {
    const memory = process.memoryUsage()
    const cores = os.cpus().length
    const [load1, load5, load15] = os.loadavg()
    return {
      workerId: extra.workerId,
      driver: extra.driver,
      activeCalls: extra.activeCalls,
      activeByCampaign: extra.activeByCampaign,
      attempted: this.attempted,
      finished: this.finished,
      /** humans only: calls AMD classified as machines are `machines`, never answers */
      answered: this.byOutcome.answered,
      machines: this.byOutcome.machine,
      answerRate:
        this.finished === 0 ? 0 : Math.round((this.byOutcome.answered / this.finished) * 1000) / 1000,
      machineRate:
        this.finished === 0 ? 0 : Math.round((this.byOutcome.machine / this.finished) * 1000) / 1000,
      byOutcome: { ...this.byOutcome },
      failedByReason: { ...this.failedByReason },
      mediaFailures: this.failedByReason.media,
      rejected: { ...this.rejected },
      notRecorded: this.notRecorded,
      cpuPercent: this.cpuPercent(),
      cores,
      loadavg: [load1, load5, load15].map((l) => Math.round((l ?? 0) * 100) / 100),
      /** 1-minute load average per core, in percent: the machine's load, not only this process */
      loadPercent: Math.round(((load1 ?? 0) / cores) * 1000) / 10,
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal },
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    }
  }
}

export type WorkerMetrics = ReturnType<WorkerStats['snapshot']>
