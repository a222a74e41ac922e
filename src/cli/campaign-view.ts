import type { CampaignSummary, CampaignTransition } from '../control/port.js'
import { finishedAdvice } from '../campaigns/next-step.js'
import { colors, duration, keyValues, percent, shareOf, table, zonedTime } from './render.js'

/** `campaign list`: one line per campaign. */
export function campaignTable(campaigns: CampaignSummary[]): string {
  return table(
    [
      'ID',
      'Name',
      'Status',
      'Window',
      'Pending',
      'Queued',
      'Dialing',
      'Done',
      'Failed',
      'Answered/finished',
      'Donations',
    ],
    campaigns.map((c) => [
      c.campaignId + (c.isTest ? ' (test)' : ''),
      c.name,
      statusWord(c),
      c.windowOpen ? 'open' : 'closed',
      c.contacts.pending,
      c.contacts.queued,
      c.contacts.dialing,
      c.contacts.done,
      c.contacts.failed,
      c.finishedDials ? `${c.answered}/${c.finishedDials} (${percent(c.answerRate)})` : '—',
      c.donations,
    ]),
  )
}

/** The status as an operator needs it: an active campaign with nothing left says so. */
export function statusWord(c: Pick<CampaignSummary, 'status' | 'allContactsFinished'>): string {
  return c.allContactsFinished && (c.status === 'active' || c.status === 'paused')
    ? `${c.status}, all contacts finished`
    : c.status
}

/** `campaign show`: every figure of one campaign; times in the campaign's zone. */
export function campaignDetail(c: CampaignSummary, now: Date = new Date()): string {
  const k = c.contacts
  const rows: [string, string][] = [
    ['Campaign', `${c.campaignId}  ${c.name}${c.isTest ? '  (test campaign)' : ''}`],
    ['Status', statusWord(c)],
  ]
  if (c.allContactsFinished && (c.status === 'active' || c.status === 'paused'))
    rows.push(['', `→ ${finishedAdvice(c)}`])
  rows.push(
    [
      'Window',
      `${c.windowOpen ? 'open now' : 'closed'} (${c.timezone})${!c.windowOpen && c.nextWindowOpening ? `, opens ${zonedTime(c.nextWindowOpening, c.timezone, now)}` : ''}`,
    ],
    ...(c.calleeZones && c.calleeZones.length > 0
      ? [
          [
            'Zones',
            c.calleeZones.map((z) => `${z.zones}: ${z.contacts}`).join(', ') +
              ' (the window must be open in each zone of a contact)',
          ] as [string, string],
        ]
      : []),
    [
      'Contacts',
      `${k.total} total: ${k.pending} pending, ${k.queued} queued, ${k.dialing} dialing, ${k.done} done, ${k.failed} failed`,
    ],
    [
      'Attempts',
      `${c.attempts} dials, ${c.finishedDials} finished, ${c.answered} answered (${shareOf(c.answered, c.finishedDials, 'finished dials')})` +
        (c.machines > 0
          ? `, ${c.machines} by a machine (${shareOf(c.machines, c.finishedDials, 'finished dials')})`
          : ''),
    ],
    ['Donations', String(c.donations)],
    ['Blacklisted', String(c.blacklisted)],
    [
      'Pace',
      c.pace.rateSource === 'observed'
        ? `${c.pace.rate.toFixed(2)} dials/s observed over the last ${span(c.pace.observedSeconds)} (limit ${c.pace.cpsLimit} CPS, concurrency ${c.pace.maxConcurrentCalls} ÷ ${c.pace.avgCallSeconds.toFixed(0)} s/call)`
        : `${c.pace.rate.toFixed(1)} calls/s at most (limit ${c.pace.cpsLimit} CPS, concurrency ${c.pace.maxConcurrentCalls} ÷ ${c.pace.avgCallSeconds.toFixed(0)} s/call; nothing dialed in the last 5 min)`,
    ],
    [
      'ETA',
      `${duration(c.etaSeconds)} of open window (worst case ${duration(c.etaWorstSeconds)}), ${c.remainingAttempts.min}–${c.remainingAttempts.max} dials left`,
    ],
  )
  return keyValues(rows)
}

/** The span a pace was observed over: "20 s", "5 min"; the window when unknown (older Lambdas). */
function span(seconds: number | null): string {
  if (seconds === null) return '5 min'
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`
}

/** `campaign start|pause|resume|complete|cancel`: the move made, by whom and why. */
export function transitionLine(move: CampaignTransition): string {
  if (!move.changed) return `${colors().green('✓')} Campaign ${move.id} is already ${move.to}: nothing to do.`
  return `${colors().green('✓')} Campaign ${move.id}: ${move.from} → ${move.to} (by ${move.actor}${move.reason ? `: ${move.reason}` : ''})`
}
