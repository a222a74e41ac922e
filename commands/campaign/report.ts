import { Args, Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { keyValues, percent, shareOf, table } from '../../src/cli/render.js'
import {
  contactResultsCsv,
  type CampaignReport as Report,
  type ContactResult,
  type Share,
} from '../../src/campaigns/report.js'

const PAGE = 1000

/** A rate first, then its count and denominator: "40.0% (2 of 5 finished dials)" (issue #16). */
function line(s: Share, what: string): string {
  return s.of > 0 ? `${percent(s.count / s.of)} (${s.count} of ${s.of} ${what})` : `no ${what} yet`
}

/** Dials per contact dialed; a campaign with no contact dialed has no mean and no histogram to show. */
function dialsPerContact(r: Report): string {
  const { mean, histogram } = r.attemptsPerContact
  if (mean === null) return '— (no contact dialed yet)'
  const hist = Object.entries(histogram)
    .filter(([dials]) => dials !== '0')
    .map(([dials, n]) => `${n} × ${dials}`)
    .join(', ')
  return `${mean.toFixed(2)} per contact dialed${hist ? ` (contacts × dials: ${hist})` : ''}`
}

export default class CampaignReport extends ControlCommand<typeof CampaignReport> {
  static override summary =
    'Results of a campaign: outcomes, answer rate, donations, opt-outs; per-contact export'
  static override description =
    "Without --format: the campaign's figures, each share with its denominator. --format csv or json exports one row per contact (contact id, masked phone, state, dials, last outcome, answered, donated, opted out, last call) to stdout, read in pages so a large campaign does not fill memory. CSV cells that a spreadsheet would run as a formula (= + - @ …) are prefixed with ' (OWASP CSV injection)."
  static override examples = [
    '<%= config.bin %> <%= command.id %> donation-drive-2024',
    '<%= config.bin %> <%= command.id %> donation-drive-2024 --format csv > results.csv',
    '<%= config.bin %> <%= command.id %> donation-drive-2024 --format json > results.json',
    '<%= config.bin %> <%= command.id %> donation-drive-2024 --json',
  ]
  static override args = { id: Args.string({ description: 'campaign id', required: true }) }
  static override flags = {
    format: Flags.string({
      description: 'table: the figures; csv / json: one row per contact',
      options: ['table', 'csv', 'json'],
      default: 'table',
    }),
  }

  async run(): Promise<Report> {
    const { args, flags } = await this.parse(CampaignReport)
    const plane = await this.control()
    const report = await plane.campaignReport(args.id)
    if (this.jsonEnabled()) return report
    if (flags.format === 'table') {
      this.log(renderReport(report))
      return report
    }
    // The export: pages of rows straight to stdout, nothing else on it.
    let page: ContactResult[] = []
    let first = true
    const flush = () => {
      if (flags.format === 'csv') process.stdout.write(contactResultsCsv(page, first))
      else
        for (const [i, row] of page.entries())
          process.stdout.write(`${first && i === 0 ? '[\n' : ',\n'}${JSON.stringify(row)}`)
      if (page.length) first = false
      page = []
    }
    for await (const row of plane.contactResults(args.id)) {
      page.push(row)
      if (page.length === PAGE) flush()
    }
    flush()
    if (flags.format === 'csv' && first) process.stdout.write(contactResultsCsv([], true))
    if (flags.format === 'json') process.stdout.write(first ? '[]\n' : '\n]\n')
    return report
  }
}

export function renderReport(r: Report): string {
  const outcomes = Object.entries(r.dials.byOutcome)
  const states = Object.entries(r.contacts.byState)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ')
  const inProgress = r.dials.byOutcome['dialing'] ?? 0
  return [
    keyValues([
      ['Campaign', `${r.campaignId}  ${r.name}  (${r.status})`],
      ['Contacts', `${r.contacts.total}${states ? `: ${states}` : ''}`],
      ['Dials', `${r.dials.total}, ${r.dials.finished} finished`],
      ['Answer rate', line(r.answerRate, 'finished dials')],
      [
        'Reached',
        `${r.contactsReached.of > 0 ? `${line(r.contactsReached, 'contacts dialed')} answered at least once` : 'no contact dialed yet'}${inProgress ? ` (${inProgress} dial${inProgress === 1 ? '' : 's'} still in progress)` : ''}`,
      ],
      ['Donations', line(r.donations, 'answered calls')],
      ['Opt-outs', line(r.optOuts, 'answered calls')],
      ['Dials/contact', dialsPerContact(r)],
    ]),
    outcomes.length
      ? table(
          ['Outcome', 'Dials', 'Share'],
          outcomes.map(([k, n]) => [
            k,
            n,
            k === 'dialing' ? 'in progress' : shareOf(n, r.dials.finished, 'finished'),
          ]),
        )
      : 'No dials yet.',
  ].join('\n')
}
