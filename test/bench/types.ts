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
