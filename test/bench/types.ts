/** One benchmark's share of the report. */
export interface BenchSection {
  title: string
  /** Markdown for the report: tables of figures, charts (as fenced text or SVG file links) */
  markdown: string
  /** the same figures, machine-readable */
  json: Record<string, unknown>
  /** one-line headline figures / comparisons, gathered at the top of the report */
  summary?: string[]
  /** extra files (e.g. SVG charts) the runner writes next to report.md, by file name */
  files?: Record<string, string>
}

/** BENCH_QUICK=1: smaller counts and fewer runs, for a quick look (figures are noisier). */
export const QUICK = process.env.BENCH_QUICK === '1'

export interface Stats {
  median: number
  min: number
  max: number
  runs: number
}

/** Median / min / max over repeated runs: each reported figure is one of these. */
export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export function fmt(s: Stats, digits = 0): string {
  return `${s.median.toFixed(digits)} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`
}

/**
 * A burst's throughput, from the instants its tasks ended (ms, any order) and the instant its
 * first task was sent (ms, same clock).
 * - `steady`: tasks/s up to the outcome of the task at the {@link STEADY_SHARE} quantile;
 * - `endToEnd`: tasks/s up to the last outcome;
 * - `tailMs`: the last outcome's lag behind that quantile's.
 * A burst ends in a few part-full batches, and an EventBridge Pipe holds a part-full batch until
 * its batching window ends (EventBridge user guide, "Amazon Simple Queue Service as a source": it
 * polls until the window expires or the batch is full; src/pipe/local-pipe.ts does the same): a wait of up to one window per burst whatever its size, which made the same
 * 2,000-task run read 0.60 or 0.85 of the minimal pipeline depending on whether its last messages
 * fell into one batch. `steady` is the per-task rate the goal is about; the tail is
 * reported beside it.
 * @throws Error when `endedMs` is empty
 */
export function burstRate(endedMs: number[], startedMs: number): BurstRate {
  if (endedMs.length === 0) throw new Error('burstRate: no task ended')
  const sorted = [...endedMs].sort((a, b) => a - b)
  const k = Math.ceil(STEADY_SHARE * sorted.length)
  const atK = sorted[k - 1]!
  const last = sorted[sorted.length - 1]!
  return {
    steady: k / ((atK - startedMs) / 1000),
    endToEnd: sorted.length / ((last - startedMs) / 1000),
    tailMs: last - atK,
  }
}

/** Share of a burst's tasks whose outcomes time its steady rate (burstRate). */
export const STEADY_SHARE = 0.95

export interface BurstRate {
  /** tasks/s from the first send to the STEADY_SHARE quantile's outcome */
  steady: number
  /** tasks/s from the first send to the last outcome */
  endToEnd: number
  /** ms from the STEADY_SHARE quantile's outcome to the last */
  tailMs: number
}
