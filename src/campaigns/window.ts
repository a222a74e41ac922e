import { DateTime } from 'luxon'
import type { CallingWindow } from '../contracts/index.js'

/**
 * Calling windows are [startHour, endHour) of local wall-clock time in the campaign's IANA zone,
 * on the listed days (0 = Sunday). Local time is what the law and the callee care about, so every
 * check converts the instant to that zone with luxon (DST-correct): on a spring-forward day the
 * skipped hour simply never occurs, on a fall-back day the repeated hour is inside the window both
 * times it occurs.
 */

/** How far nextWindowOpening looks ahead: a full week plus a day covers any weekly schedule. */
export const LOOKAHEAD_DAYS = 8

function localDayOfWeek(local: DateTime): number {
  return local.weekday % 7 // luxon: 1 = Monday … 7 = Sunday
}

/**
 * Zones found valid. Whether luxon knows a zone does not change while the process runs, and the
 * check built a DateTime and computed its offset — half of a window check's cost, paid by enrich
 * and again by the dial gate for every task (issue #17). Only valid zones are kept, bounded.
 */
const knownZones = new Set<string>()
const KNOWN_ZONES_MAX = 1000

function assertZone(tz: string): void {
  if (knownZones.has(tz)) return
  if (!DateTime.now().setZone(tz).isValid)
    throw new Error(`timezone "${tz}" is not an IANA time zone; use one such as Asia/Jerusalem`)
  if (knownZones.size >= KNOWN_ZONES_MAX) knownZones.clear()
  knownZones.add(tz)
}

/** The local wall clock at an instant in a zone: day of week (0 = Sunday), hour, minute. */
export interface WallClock {
  readonly day: number
  readonly hour: number
  readonly minute: number
}

/**
 * Each zone's wall clock for the last UTC minute it was read in: the window rule reads the clock
 * of `now`, so for each dial task in turn; luxon's conversion (a formatToParts per call) was most
 * of the dial gate's window check (245 ms of a 27k-task profile, issue #17), now paid once per
 * zone per minute. Bounded by zones: cleared past WALL_CLOCKS_MAX.
 */
const wallClocks = new Map<string, { minuteStart: number; clock: WallClock }>()
export const WALL_CLOCKS_MAX = 1000
const MINUTE_MS = 60_000

/**
 * The wall clock of `now` in `tz`, as luxon reads it (DST-correct). Throws for a zone that is not
 * IANA (assertZone). Kept per (zone, UTC minute) when the minute's start and end have one offset of
 * whole minutes: then every instant of the UTC minute shows the same local minute, so the kept
 * clock is exact for all of them — zones with a :30 or :45 offset (Asia/Kathmandu +05:45, Lord
 * Howe's 30-minute DST) included, which is why the minute, not the hour, is the key. An offset
 * with seconds (local mean time before a zone's standard time, e.g. Africa/Monrovia −00:44:30
 * until 1972) or a change inside the minute is read by luxon at `now` itself and not kept.
 */
export function localWallClock(now: Date, tz: string): WallClock {
  const ms = now.getTime()
  const minuteStart = Math.floor(ms / MINUTE_MS) * MINUTE_MS
  const kept = wallClocks.get(tz)
  if (kept !== undefined && kept.minuteStart === minuteStart) return kept.clock
  assertZone(tz)
  const start = DateTime.fromMillis(minuteStart, { zone: tz })
  const offset = start.offset
  if (
    !Number.isInteger(offset) ||
    DateTime.fromMillis(minuteStart + MINUTE_MS - 1, { zone: tz }).offset !== offset
  )
    return wallClockOf(DateTime.fromJSDate(now, { zone: tz }))
  const clock = wallClockOf(start)
  if (kept === undefined && wallClocks.size >= WALL_CLOCKS_MAX) wallClocks.clear()
  wallClocks.set(tz, { minuteStart, clock })
  return clock
}

/** How many zones' wall clocks are kept (at most WALL_CLOCKS_MAX): for tests and diagnostics. */
export function keptWallClocks(): number {
  return wallClocks.size
}

function wallClockOf(local: DateTime): WallClock {
  return Object.freeze({ day: localDayOfWeek(local), hour: local.hour, minute: local.minute })
}

function earliest(local: DateTime): DateTime {
  return local.getPossibleOffsets().reduce((a, b) => (b < a ? b : a), local)
}

export function isWithinCallingWindow(now: Date, windows: readonly CallingWindow[], tz: string): boolean {
  const { day, hour } = localWallClock(now, tz)
  return windows.some((w) => w.dayOfWeek.includes(day) && hour >= w.startHour && hour < w.endHour)
}

/**
 * The first instant at or after `now` when a window is open: `now` itself when one already is.
 * A window whose start hour falls in a spring-forward gap opens when the clock jumps (e.g. 03:00),
 * and one that lies wholly in the gap does not open that day.
 */
export function nextWindowOpening(now: Date, windows: readonly CallingWindow[], tz: string): Date {
  if (isWithinCallingWindow(now, windows, tz)) return now
  const local = DateTime.fromJSDate(now, { zone: tz })
  // Walk calendar dates (not 24-hour steps, which drift across DST changes).
  const firstDate = DateTime.utc(local.year, local.month, local.day)
  let best: DateTime | undefined
  for (let offset = 0; offset <= LOOKAHEAD_DAYS && best === undefined; offset++) {
    const date = firstDate.plus({ days: offset })
    const dow = date.weekday % 7
    for (const w of windows) {
      if (!w.dayOfWeek.includes(dow)) continue
      // luxon moves a wall time inside a DST gap forward by the gap's length (02:00 → 03:00), and
      // resolves a repeated wall time (fall-back) to its later occurrence: take the earlier one.
      const opening = earliest(
        DateTime.fromObject(
          { year: date.year, month: date.month, day: date.day, hour: w.startHour },
          { zone: tz },
        ),
      )
      const sameDay = opening.day === date.day && opening.month === date.month
      if (!sameDay || opening.hour >= w.endHour) continue // the window lies wholly in a gap
      if (opening.toMillis() <= now.getTime()) continue // today's window already passed
      if (best === undefined || opening < best) best = opening
    }
  }
  if (best === undefined)
    throw new Error(
      `no calling window opens within ${LOOKAHEAD_DAYS} days in ${tz}; check callingWindows (dayOfWeek, startHour, endHour)`,
    )
  return best.toJSDate()
}

/**
 * Where the callee's local time comes from, strongest first: an IANA zone stored on the contact
 * (CSV column `timezone`, `push --timezone`), else the zones libphonenumber maps the number's
 * prefix to (stored on the contact at import, see callee-zones.ts), else the campaign's zone.
 */
export interface CalleeZones {
  zones: string[]
  source: 'contact' | 'number' | 'campaign'
}

/** The contact fields the callee rule reads (contacts.timezone, contacts.number_timezones). */
export interface ContactZoneFields {
  timezone?: string | null
  numberTimezones?: readonly string[] | null
}

export function calleeZones(contact: ContactZoneFields, campaignTimezone: string): CalleeZones {
  if (contact.timezone) return { zones: [contact.timezone], source: 'contact' }
  if (contact.numberTimezones && contact.numberTimezones.length > 0)
    return { zones: [...contact.numberTimezones], source: 'number' }
  return { zones: [campaignTimezone], source: 'campaign' }
}

/** "Pacific/Honolulu (number)", "America/Adak+America/Anchorage (number)": for reasons and listings. */
export function describeZones(callee: CalleeZones, max = 3): string {
  const shown = callee.zones.slice(0, max).join('+')
  const more = callee.zones.length > max ? `+${callee.zones.length - max} more` : ''
  return `${shown}${more} (${callee.source})`
}

/**
 * THE calling-window rule, used by the dispatcher's eligibility, enrich and the dial gate alike:
 * open only when `now` is inside a window in EVERY candidate zone of the callee. A number whose
 * prefix spans two zones (+1 907: Anchorage and Adak) is called only while it is calling time in
 * both: the rule must hold wherever the callee may be (TCPA 8 am–9 pm; VICIdial's local call time).
 */
export function isCalleeWindowOpen(
  now: Date,
  windows: readonly CallingWindow[],
  callee: CalleeZones,
): boolean {
  return callee.zones.every((tz) => isWithinCallingWindow(now, windows, tz))
}

/**
 * The first instant at or after `now` when the window is open in every candidate zone, or null
 * when no such instant comes within LOOKAHEAD_DAYS (e.g. a toll-free +1 800 number maps to zones
 * from Guam to Adak, whose windows never overlap: give such contacts an explicit timezone).
 * Each round moves to the latest of the zones' next openings, so the instant only grows; it stops
 * at the first instant open everywhere.
 */
export function nextCalleeOpening(
  now: Date,
  windows: readonly CallingWindow[],
  callee: CalleeZones,
): Date | null {
  const limit = now.getTime() + LOOKAHEAD_DAYS * 24 * 3600 * 1000
  let at = now
  for (let round = 0; round < 1000 && at.getTime() <= limit; round++) {
    if (isCalleeWindowOpen(at, windows, callee)) return at
    let latest = at
    for (const tz of callee.zones) {
      let opening: Date
      try {
        opening = nextWindowOpening(at, windows, tz)
      } catch {
        return null
      }
      if (opening > latest) latest = opening
    }
    // Every zone is open at `at` yet the rule said closed cannot happen; guard the loop anyway.
    at = latest.getTime() === at.getTime() ? new Date(at.getTime() + 60_000) : latest
  }
  return null
}
