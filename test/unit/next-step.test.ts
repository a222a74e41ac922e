import { describe, expect, it } from 'vitest'
import { campaignNextStep, finishedAdvice } from '../../src/campaigns/next-step.js'

const campaign = (over: Partial<Parameters<typeof campaignNextStep>[0]> = {}) => ({
  campaignId: 'c1',
  status: 'draft',
  isTest: false,
  contacts: { total: 0 },
  allContactsFinished: false,
  ...over,
})

describe('the next step a campaign needs (campaign create, show, status, doctor)', () => {
  it('a draft: contacts from a FILE (a test campaign: a load test), then start', () => {
    expect(campaignNextStep(campaign())).toBe(
      'dialctl contacts import --campaign c1 FILE (FILE: a CSV with a phone_number column, E.164), then dialctl campaign start c1',
    )
    expect(campaignNextStep(campaign({ isTest: true }))).toBe(
      'dialctl load-test -n 100 --campaign c1 (it sends reserved test numbers as contacts and starts the draft)',
    )
    expect(campaignNextStep(campaign({ contacts: { total: 3 } }))).toBe('dialctl campaign start c1')
  })

  it('every contact finished: more of them (a test campaign: another load test) or complete', () => {
    expect(campaignNextStep(campaign({ status: 'active', allContactsFinished: true }))).toBe(
      'import more (dialctl contacts import --campaign c1 FILE) or close it (dialctl campaign complete c1)',
    )
    expect(finishedAdvice({ campaignId: 'lt', isTest: true })).toBe(
      'run another load test (dialctl load-test -n 100 --campaign lt) or close it (dialctl campaign complete lt)',
    )
  })

  it('paused: resume; dialing or final: nothing to suggest', () => {
    expect(campaignNextStep(campaign({ status: 'paused', contacts: { total: 3 } }))).toBe(
      'dialctl campaign resume c1',
    )
    for (const status of ['active', 'completed', 'cancelled'])
      expect(campaignNextStep(campaign({ status, contacts: { total: 3 } }))).toBeUndefined()
  })
})
