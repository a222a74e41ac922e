import { zonesOfNumber } from '../campaigns/callee-zones.js'
import { calleeZones, isCalleeWindowOpen, nextCalleeOpening, type CalleeZones } from '../campaigns/window.js'
import type { CallingWindow } from '../contracts/index.js'

/**
 * When a pushed task can be dialed (issue #16): a task pushed while the callee's calling window is
 * closed is accepted — enrich reschedules its contact to the opening and the dispatcher dials it
 * then — so `push` says when, instead of a bare "Sent". `opensAt` is null when the window is open
 * now, or when it opens in no zone of the callee within LOOKAHEAD_DAYS (`never` true).
 */
export interface PushWindow {
  open: boolean
  /** ISO instant the window opens in every zone of the callee */
  opensAt: string | null
  /** the window never opens in every candidate zone within the look-ahead (give the contact a timezone) */
  never: boolean
  /** the zones the window is judged in, and where they come from (window.ts's callee rule) */
  calleeZones: string[]
  zoneSource: CalleeZones['source']
  campaignTimezone: string
}

/**
 * The callee rule (window.ts) for one pushed number: `--timezone` first, else the number's zones
 * (libphonenumber, as stored on the contact push creates), else the campaign's zone. Returns
 * undefined when the campaign's windows are unknown (an older control Lambda does not send them).
 */
export function pushWindow(
  campaign: { timezone: string; callingWindows?: readonly CallingWindow[] | undefined },
  phoneNumber: string,
  timezone: string | undefined,
  now: Date,
): PushWindow | undefined {
  if (!campaign.callingWindows) return undefined
  const callee = calleeZones(
    { timezone: timezone ?? null, numberTimezones: zonesOfNumber(phoneNumber) },
    campaign.timezone,
  )
  const base = { calleeZones: callee.zones, zoneSource: callee.source, campaignTimezone: campaign.timezone }
  if (isCalleeWindowOpen(now, campaign.callingWindows, callee))
    return { open: true, opensAt: null, never: false, ...base }
  const opening = nextCalleeOpening(now, campaign.callingWindows, callee)
  return { open: false, opensAt: opening?.toISOString() ?? null, never: opening === null, ...base }
}
