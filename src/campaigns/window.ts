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

function assertZone(tz: string): void {
  if (!DateTime.now().setZone(tz).isValid)
    throw new Error(`timezone "${tz}" is not an IANA time zone; use one such as Asia/Jerusalem`)
}

function earliest(local: DateTime): DateTime {
  return local.getPossibleOffsets().reduce((a, b) => (b < a ? b : a), local)
}

export function isWithinCallingWindow(now: Date, windows: readonly CallingWindow[], tz: string): boolean {
  assertZone(tz)
  const local = DateTime.fromJSDate(now, { zone: tz })
  const day = localDayOfWeek(local)
  return windows.some((w) => w.dayOfWeek.includes(day) && local.hour >= w.startHour && local.hour < w.endHour)
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
