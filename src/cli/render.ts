import { createRequire } from 'node:module'
import { Chalk, type ChalkInstance } from 'chalk'
import type TableConstructor from 'cli-table3'

// cli-table3 (CommonJS) is required on first use: commands that print no table (`cps get`) do not
// pay for loading it at start-up (issue #16).
const require = createRequire(import.meta.url)

/** Colour only for a person at a terminal: never when piped, never with NO_COLOR (no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return Boolean(stream.isTTY)
}

export function colors(): ChalkInstance {
  return new Chalk({ level: useColor() ? 3 : 0 })
}

/** A table with no colour codes of its own (cli-table3 colours headers red by default). */
export function table(head: string[], rows: (string | number)[][]): string {
  const c = colors()
  const Table = require('cli-table3') as typeof TableConstructor
  const t = new Table({ head: head.map((h) => c.bold(h)), style: { head: [], border: [] } })
  for (const row of rows) t.push(row.map(String))
  return t.toString()
}

/** `Label   value` lines, labels padded to one column (status screens; stable for snapshots). */
export function keyValues(rows: [string, string | number][]): string {
  const c = colors()
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${c.bold(k.padEnd(width))}  ${v}`).join('\n')
}

const BARS = '▁▂▃▄▅▆▇█'

/** One character per value, scaled to `max` (the limit) so a full bar means "at the limit". */
export function sparkline(values: number[], max = Math.max(1, ...values)): string {
  return values
    .map((v) => (v <= 0 ? '·' : BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1)))]))
    .join('')
}

export function percent(share: number | null | undefined, digits = 1): string {
  return share === null || share === undefined ? '—' : `${(share * 100).toFixed(digits)}%`
}

/**
 * A share with its denominator, so no reader has to guess what it is a share of:
 * "42.0% of 24 finished dials". "—" (and the denominator) when nothing was counted yet.
 */
export function shareOf(part: number, whole: number, what: string): string {
  return whole > 0 ? `${percent(part / whole)} of ${whole} ${what}` : `no ${what} yet`
}

/**
 * A moment as the operator of a campaign reads it: wall-clock time in the campaign's zone, with
 * the zone and how far away it is ("Tue 09:00 Asia/Jerusalem, in 12h05m"). An invalid zone falls
 * back to UTC, named as such.
 */
export function zonedTime(at: Date | string, timeZone: string, now: Date = new Date()): string {
  const when = typeof at === 'string' ? new Date(at) : at
  let zone = timeZone
  let text: string
  try {
    text = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: '2-digit',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(when)
  } catch {
    zone = 'UTC'
    text = when.toISOString().slice(0, 16).replace('T', ' ')
  }
  const delta = Math.round((when.getTime() - now.getTime()) / 1000)
  const relative = delta >= 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`
  return `${text.replace(',', '')} ${zone} (${relative})`
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—'
  if (seconds < 60) return `${Math.round(seconds)}s`
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`
}

/** "30s", "2m", "1h", "500ms" or a bare number of seconds → milliseconds. */
export function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) throw new Error(`"${text}" is not an interval; write e.g. 30s, 2m or 500ms`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000)
}
