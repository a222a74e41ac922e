import { calleeZones, isCalleeWindowOpen, nextCalleeOpening } from '../campaigns/window.js'
import type { CallingWindow } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import type { ClaimedContact } from './contacts.js'

/**
 * The dispatcher's use of the callee rule (window.ts, the same function enrich and the dial gate
 * apply): of the contacts just claimed (queued), those whose own window is closed now are put back
 * to pending at their next opening instead of being sent — a Honolulu contact of a New York
 * campaign is not queued at 09:00 New York time. Contacts with no common opening stay claimed and
 * are sent: the dial gate then fails them with `no_common_window` and records why.
 * Returns the contacts to send.
 */
export async function holdClosedCallees(
  db: Db,
  campaignId: string,
  contacts: ClaimedContact[],
  options: { now: Date; windows: readonly CallingWindow[]; campaignTimezone: string },
): Promise<{ send: ClaimedContact[]; held: number }> {
  const send: ClaimedContact[] = []
  const held: { id: string; at: Date }[] = []
  for (const c of contacts) {
    const callee = calleeZones(c, options.campaignTimezone)
    const next = isCalleeWindowOpen(options.now, options.windows, callee)
      ? options.now
      : nextCalleeOpening(options.now, options.windows, callee)
    if (next && next.getTime() > options.now.getTime()) held.push({ id: c.id, at: next })
    else send.push(c)
  }
  if (held.length)
    await db.query(
      `UPDATE contacts c SET status = 'pending', next_attempt_at = r.at, status_changed_at = $2
         FROM unnest($3::text[], $4::timestamptz[]) AS r(id, at)
        WHERE c.campaign_id = $1 AND c.id = r.id AND c.status = 'queued'`,
      [campaignId, options.now, held.map((h) => h.id), held.map((h) => h.at.toISOString())],
    )
  return { send, held: held.length }
}
