import { describe, expect, it } from 'vitest'
import { renderReport } from '../../commands/campaign/report.js'
import type { CampaignReport } from '../../src/campaigns/report.js'

// Issue #16: an undialed campaign read "Dials/contact — per contact dialed (contacts × dials: 1 × 0)".
describe('campaign report, nothing dialed yet', () => {
  it('says so instead of a rate of nothing and a histogram of undialed contacts', () => {
    const none = { count: 0, of: 0, rate: null }
    const report = {
      campaignId: 'c',
      name: 'C',
      status: 'draft',
      contacts: { total: 1, byState: { pending: 1 } },
      dials: { total: 0, finished: 0, byOutcome: {} },
      answerRate: none,
      contactsReached: none,
      donations: none,
      optOuts: none,
      attemptsPerContact: { mean: null, histogram: { '0': 1 } },
    } as unknown as CampaignReport
    const text = renderReport(report)
    expect(text).toContain('Answer rate    no finished dials yet')
    expect(text).toContain('Reached        no contact dialed yet')
    expect(text).toContain('Dials/contact  — (no contact dialed yet)')
    expect(text).not.toContain('× 0')
  })
})
