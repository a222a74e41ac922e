import type { CampaignSummary, CampaignTransition } from '../control/port.js'
import { colors, duration, keyValues, percent, table } from './render.js'

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
      'Answer',
      'Donations',
    ],
    campaigns.map((c) => [
      c.campaignId + (c.isTest ? ' (test)' : ''),
      c.name,
      c.status,
      c.windowOpen ? 'open' : 'closed',
      c.contacts.pending,
      c.contacts.queued,
      c.contacts.dialing,
      c.contacts.done,
      c.contacts.failed,
      percent(c.answerRate),
      c.donations,
    ]),
  )
}

/** `campaign show`: every figure of one campaign. */
export function campaignDetail(c: CampaignSummary): string {
  const k = c.contacts
  return keyValues([
    ['Campaign', `${c.campaignId}  ${c.name}${c.isTest ? '  (test campaign)' : ''}`],
    ['Status', c.status],
    [
      'Window',
      `${c.windowOpen ? 'open now' : 'closed'} (${c.timezone})${!c.windowOpen && c.nextWindowOpening ? `, opens ${c.nextWindowOpening}` : ''}`,
    ],
    [
      'Contacts',
      `${k.total} total: ${k.pending} pending, ${k.queued} queued, ${k.dialing} dialing, ${k.done} done, ${k.failed} failed`,
    ],
    [
      'Attempts',
      `${c.attempts} dials, ${c.answered} answered (${percent(c.answerRate)})` +
        (c.machines > 0 ? `, ${c.machines} by a machine (${percent(c.machineRate)})` : ''),
    ],
    ['Donations', String(c.donations)],
    ['Blacklisted', String(c.blacklisted)],
    [
      'Pace',
      `${c.pace.rate.toFixed(1)} calls/s (limit ${c.pace.cpsLimit}, concurrency ${c.pace.maxConcurrentCalls} ÷ ${c.pace.avgCallSeconds.toFixed(0)} s/call)`,
    ],
    [
      'ETA',
      `${duration(c.etaSeconds)} of open window (worst case ${duration(c.etaWorstSeconds)}), ${c.remainingAttempts.min}–${c.remainingAttempts.max} dials left`,
    ],
  ])
}

/** `campaign start|pause|resume|complete|cancel`: the move made, by whom and why. */
export function transitionLine(move: CampaignTransition): string {
  return `${colors().green('✓')} Campaign ${move.id}: ${move.from} → ${move.to} (by ${move.actor}${move.reason ? `: ${move.reason}` : ''})`
}
