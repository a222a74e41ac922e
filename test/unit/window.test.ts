import { DateTime } from 'luxon'
import { describe, expect, it, vi } from 'vitest'
import {
  isWithinCallingWindow,
  keptWallClocks,
  localWallClock,
  nextWindowOpening,
  WALL_CLOCKS_MAX,
} from '../../src/campaigns/window.js'
import type { CallingWindow } from '../../src/contracts/index.js'

const EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]
const at = (iso: string) => new Date(iso)
const win = (dayOfWeek: number[], startHour: number, endHour: number): CallingWindow => ({
  dayOfWeek,
  startHour,
  endHour,
})

describe('isWithinCallingWindow', () => {
  // Seed window: Sunday–Thursday 09:00–17:00 Asia/Jerusalem (UTC+2 in winter).
  const seed = [win([0, 1, 2, 3, 4], 9, 17)]

  it('uses local time in the campaign zone, with an exclusive end hour', () => {
    // Monday 2024-01-15
    expect(isWithinCallingWindow(at('2024-01-15T06:59:59Z'), seed, 'Asia/Jerusalem')).toBe(false) // 08:59:59
    expect(isWithinCallingWindow(at('2024-01-15T07:00:00Z'), seed, 'Asia/Jerusalem')).toBe(true) // 09:00
    expect(isWithinCallingWindow(at('2024-01-15T14:59:59Z'), seed, 'Asia/Jerusalem')).toBe(true) // 16:59:59
    expect(isWithinCallingWindow(at('2024-01-15T15:00:00Z'), seed, 'Asia/Jerusalem')).toBe(false) // 17:00
  })

  it('takes the day of week in the campaign zone, not in UTC', () => {
    // Friday 2024-01-19 00:30 in Jerusalem is still Thursday 22:30 UTC: Friday is not a calling day.
    const lateWindow = [win([4], 0, 24)] // Thursday all day
    expect(isWithinCallingWindow(at('2024-01-18T22:30:00Z'), lateWindow, 'Asia/Jerusalem')).toBe(false)
    expect(isWithinCallingWindow(at('2024-01-18T21:30:00Z'), lateWindow, 'Asia/Jerusalem')).toBe(true) // Thu 23:30
    // Sunday (0) in New York while it is already Monday in UTC.
    const sunday = [win([0], 20, 24)]
    expect(isWithinCallingWindow(at('2024-01-15T01:30:00Z'), sunday, 'America/New_York')).toBe(true) // Sun 20:30
    expect(isWithinCallingWindow(at('2024-01-15T05:00:00Z'), sunday, 'America/New_York')).toBe(false) // Mon 00:00
  })

  it('endHour 24 runs until local midnight', () => {
    const evening = [win(EVERY_DAY, 20, 24)]
    expect(isWithinCallingWindow(at('2024-01-15T21:59:59Z'), evening, 'Asia/Jerusalem')).toBe(true) // 23:59:59
    expect(isWithinCallingWindow(at('2024-01-15T22:00:00Z'), evening, 'Asia/Jerusalem')).toBe(false) // 00:00
  })

  it('tracks the UTC offset change across DST (Jerusalem summer is UTC+3)', () => {
    // 2024-07-15 09:00 Jerusalem = 06:00 UTC; the winter offset would put it at 07:00 UTC.
    expect(isWithinCallingWindow(at('2024-07-15T06:00:00Z'), seed, 'Asia/Jerusalem')).toBe(true)
    expect(isWithinCallingWindow(at('2024-07-15T05:59:00Z'), seed, 'Asia/Jerusalem')).toBe(false)
  })

  it('on the fall-back day the repeated hour is inside a window both times', () => {
    // New York 2024-11-03: 01:00–02:00 happens twice (EDT 05:00–06:00 UTC, then EST 06:00–07:00 UTC).
    const oneAm = [win(EVERY_DAY, 1, 2)]
    expect(isWithinCallingWindow(at('2024-11-03T05:30:00Z'), oneAm, 'America/New_York')).toBe(true)
    expect(isWithinCallingWindow(at('2024-11-03T06:30:00Z'), oneAm, 'America/New_York')).toBe(true)
    expect(isWithinCallingWindow(at('2024-11-03T07:00:00Z'), oneAm, 'America/New_York')).toBe(false) // 02:00 EST
  })

  it('rejects a time zone that is not IANA, naming it', () => {
    expect(() => isWithinCallingWindow(at('2024-01-15T07:00:00Z'), seed, 'Mars/Olympus')).toThrow(
      /Mars\/Olympus/,
    )
  })

  it('remembers only zones found valid: a bad zone is refused every time, a known one still answers per instant', () => {
    // valid zones are cached (issue #17); the cache must never turn a refusal into an answer
    for (let i = 0; i < 3; i++) {
      expect(() => isWithinCallingWindow(at('2024-01-15T07:00:00Z'), seed, 'Mars/Olympus')).toThrow(
        /Mars\/Olympus/,
      )
      expect(isWithinCallingWindow(at('2024-01-15T07:00:00Z'), seed, 'Asia/Jerusalem')).toBe(true)
      expect(isWithinCallingWindow(at('2024-01-15T15:00:00Z'), seed, 'Asia/Jerusalem')).toBe(false)
    }
  })
})

describe('nextWindowOpening', () => {
  const seed = [win([0, 1, 2, 3, 4], 9, 17)]

  it('returns now when a window is open', () => {
    const now = at('2024-01-15T08:00:00Z')
    expect(nextWindowOpening(now, seed, 'Asia/Jerusalem')).toEqual(now)
  })

  it('later the same day, before the window opens', () => {
    expect(nextWindowOpening(at('2024-01-15T04:00:00Z'), seed, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-01-15T07:00:00.000Z',
    )
  })

  it('across the weekend: Thursday evening → Sunday 09:00 in Jerusalem', () => {
    // Thursday 2024-01-18 18:00 local; Friday and Saturday are not calling days.
    expect(nextWindowOpening(at('2024-01-18T16:00:00Z'), seed, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-01-21T07:00:00.000Z',
    )
  })

  it('across a New York weekend: Friday 17:00 → Monday 09:00 EST', () => {
    const weekdays = [win([1, 2, 3, 4, 5], 9, 17)]
    expect(nextWindowOpening(at('2024-01-19T22:00:00Z'), weekdays, 'America/New_York').toISOString()).toBe(
      '2024-01-22T14:00:00.000Z',
    )
  })

  it('a window only once a week is found up to a week ahead', () => {
    // Monday 2024-01-15 10:00 local, window Mondays 09–10 only: next Monday.
    const monday = [win([1], 9, 10)]
    expect(nextWindowOpening(at('2024-01-15T08:00:00Z'), monday, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-01-22T07:00:00.000Z',
    )
  })

  it('picks the earliest of several windows', () => {
    const windows = [win([1], 14, 16), win([1], 10, 12)]
    expect(nextWindowOpening(at('2024-01-15T06:00:00Z'), windows, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-01-15T08:00:00.000Z',
    )
  })

  it('uses the new offset after spring-forward (Jerusalem, Friday 2024-03-29 02:00 → 03:00)', () => {
    // Thursday 2024-03-28 18:00 IST (UTC+2); next window Sunday 03-31 09:00 IDT (UTC+3) = 06:00 UTC.
    expect(nextWindowOpening(at('2024-03-28T16:00:00Z'), seed, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-03-31T06:00:00.000Z',
    )
  })

  it('a window starting in the spring-forward gap opens when the clock jumps (New York 2024-03-10)', () => {
    // 02:00–03:00 does not exist on 2024-03-10; a window 02:00–05:00 opens at 03:00 EDT = 07:00 UTC.
    const early = [win(EVERY_DAY, 2, 5)]
    const now = at('2024-03-10T06:00:00Z') // 01:00 EST
    expect(isWithinCallingWindow(now, early, 'America/New_York')).toBe(false)
    expect(nextWindowOpening(now, early, 'America/New_York').toISOString()).toBe('2024-03-10T07:00:00.000Z')
    expect(isWithinCallingWindow(at('2024-03-10T07:00:00Z'), early, 'America/New_York')).toBe(true)
  })

  it('a window lying wholly in the spring-forward hole does not open that day (Jerusalem 2024-03-29)', () => {
    // 02:00–03:00 Jerusalem does not exist on Friday 2024-03-29: the next opening is Saturday 02:00 IDT.
    const hole = [win(EVERY_DAY, 2, 3)]
    const now = at('2024-03-28T23:30:00Z') // Friday 01:30 IST
    expect(nextWindowOpening(now, hole, 'Asia/Jerusalem').toISOString()).toBe('2024-03-29T23:00:00.000Z')
    // No instant of that Friday is inside the window.
    for (let minutes = 0; minutes < 24 * 60; minutes += 15) {
      const t = new Date(Date.parse('2024-03-28T22:00:00Z') + minutes * 60_000) // Friday 00:00 IST onwards
      expect(isWithinCallingWindow(t, hole, 'Asia/Jerusalem')).toBe(false)
    }
  })

  it('on the fall-back day a window at 01:00 opens at the first 01:00 (New York 2024-11-03, EDT)', () => {
    const oneAm = [win(EVERY_DAY, 1, 3)]
    expect(nextWindowOpening(at('2024-11-03T03:30:00Z'), oneAm, 'America/New_York').toISOString()).toBe(
      '2024-11-03T05:00:00.000Z',
    )
  })

  it('after the fall-back the local day is 25 hours long and the next opening keeps its wall time', () => {
    // Jerusalem falls back Sunday 2024-10-27 02:00 → 01:00. Saturday 10-26 20:00 IDT → Sunday 09:00 IST.
    expect(nextWindowOpening(at('2024-10-26T17:00:00Z'), seed, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-10-27T07:00:00.000Z',
    )
  })

  it('at the exact end hour the window is closed and the next day’s opening is returned', () => {
    // Thursday 17:00 → Sunday 09:00
    expect(nextWindowOpening(at('2024-01-18T15:00:00Z'), seed, 'Asia/Jerusalem').toISOString()).toBe(
      '2024-01-21T07:00:00.000Z',
    )
  })
})

/** The wall clock as luxon reads it at `t`, uncached: what localWallClock must equal. */
function luxonClock(t: Date, tz: string) {
  const local = DateTime.fromJSDate(t, { zone: tz })
  return { day: local.weekday % 7, hour: local.hour, minute: local.minute }
}

describe('localWallClock (kept per zone and UTC minute)', () => {
  // instants where the offset changes: DST both ways, 30-minute DST (Lord Howe), a :45 zone's
  // change of offset (Kathmandu +05:30 → +05:45), and offsets with seconds (local mean time)
  const transitions: Array<[string, string]> = [
    ['America/New_York', '2026-03-08T07:00:00Z'], // 02:00 EST → 03:00 EDT
    ['America/New_York', '2026-11-01T06:00:00Z'], // 02:00 EDT → 01:00 EST
    ['Europe/London', '2026-03-29T01:00:00Z'],
    ['Europe/London', '2026-10-25T01:00:00Z'],
    ['Australia/Lord_Howe', '2026-04-04T15:00:00Z'], // 02:00 +11 → 01:30 +10:30
    ['Australia/Lord_Howe', '2026-10-03T15:30:00Z'], // 02:00 +10:30 → 02:30 +11
    ['Asia/Kathmandu', '1985-12-31T18:30:00Z'], // +05:30 → +05:45
    ['Asia/Kathmandu', '2026-06-01T03:15:00Z'], // no change: 09:00 at a quarter past the UTC hour
    ['Africa/Monrovia', '1972-01-07T00:44:30Z'], // −00:44:30 → GMT: the local minute turns at :30 s
    ['America/New_York', '1883-11-18T17:00:00Z'], // LMT −04:56:02 → EST
  ]
  // within a minute: its start (a miss), then instants the kept clock answers (hits)
  const withinMinute = [0, 1_000, 29_999, 30_000, 44_999, 59_999]

  it.each(transitions)('equals luxon minute by minute around the offset change: %s %s', (tz, iso) => {
    const change = Date.parse(iso)
    const minutes: number[] = []
    for (let m = -180; m <= 180; m++) minutes.push(Math.floor(change / 60_000) * 60_000 + m * 60_000)
    // forwards (each minute's first call reads luxon, the rest are kept), then backwards
    for (const start of [...minutes, ...minutes.reverse()])
      for (const ms of withinMinute) {
        const t = new Date(start + ms)
        expect(localWallClock(t, tz), `${tz} ${t.toISOString()}`).toEqual(luxonClock(t, tz))
      }
  })

  it('every zone has whole-minute offsets today, so each is kept; local mean time had seconds', () => {
    // (a scan of every zone every 10 days from 1973 to 2040 found none with seconds; it takes 13 s)
    for (const tz of Intl.supportedValuesOf('timeZone'))
      for (const iso of ['2026-01-15T00:00:00Z', '2026-07-15T00:00:00Z'])
        expect(Number.isInteger(DateTime.fromISO(iso, { zone: tz }).offset), `${tz} ${iso}`).toBe(true)
    // the case the fallback is for: read by luxon at the instant itself, not kept (tested above)
    expect(DateTime.fromISO('1971-06-01T00:00:00Z', { zone: 'Africa/Monrovia' }).offset).toBe(-44.5)
  })

  it('reads luxon once per zone and minute; the clock is frozen and shared within the minute', () => {
    const fromMillis = vi.spyOn(DateTime, 'fromMillis')
    const fromJSDate = vi.spyOn(DateTime, 'fromJSDate')
    try {
      const tz = 'Pacific/Chatham' // +12:45 / +13:45, used by no other test here
      const first = localWallClock(new Date('2026-06-01T10:00:05Z'), tz)
      const reads = fromMillis.mock.calls.length + fromJSDate.mock.calls.length
      expect(reads).toBeGreaterThan(0)
      expect(localWallClock(new Date('2026-06-01T10:00:59.999Z'), tz)).toBe(first)
      expect(fromMillis.mock.calls.length + fromJSDate.mock.calls.length).toBe(reads)
      expect(first).toEqual({ day: 1, hour: 22, minute: 45 })
      expect(Object.isFrozen(first)).toBe(true)
      // the next minute is read again
      expect(localWallClock(new Date('2026-06-01T10:01:00Z'), tz)).toEqual({ day: 1, hour: 22, minute: 46 })
      expect(fromMillis.mock.calls.length + fromJSDate.mock.calls.length).toBeGreaterThan(reads)
    } finally {
      fromMillis.mockRestore()
      fromJSDate.mockRestore()
    }
  })

  it('keeps at most WALL_CLOCKS_MAX zones, and answers right past the bound', () => {
    // fixed-offset zones luxon knows ("UTC+5:07"): enough distinct zones to pass the bound
    const t = new Date('2026-06-01T10:00:00Z')
    for (let i = 0; i <= WALL_CLOCKS_MAX + 10; i++) {
      const minutes = (i % 1680) - 840 // −14:00 … +13:59
      const tz = `UTC${minutes < 0 ? '-' : '+'}${Math.floor(Math.abs(minutes) / 60)}:${String(Math.abs(minutes) % 60).padStart(2, '0')}`
      expect(localWallClock(t, tz)).toEqual(luxonClock(t, tz))
      expect(keptWallClocks()).toBeLessThanOrEqual(WALL_CLOCKS_MAX)
    }
  })

  it('refuses a zone that is not IANA, kept or not', () => {
    for (let i = 0; i < 2; i++)
      expect(() => localWallClock(new Date('2026-06-01T10:00:00Z'), 'Mars/Olympus')).toThrow(/Mars\/Olympus/)
  })
})
