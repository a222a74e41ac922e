import { describe, expect, it, vi } from 'vitest'
import { isValidTimeZone } from '../../src/contracts/campaign.js'
import { dialCommandFor } from '../../src/dialer/worker-client.js'
import {
  Campaign,
  DialCommand,
  DialTask,
  describeZodError,
  EnrichedDialTask,
  isE164,
} from '../../src/contracts/index.js'
import { maskPhone, maskPhonesIn } from '../../src/observability/mask.js'
import { seedCampaign as seedCampaignDoc } from '../helpers/fixtures.js'

const seedTask = {
  campaignId: 'campaign-123',
  contactId: 'contact-456',
  phoneNumber: '+972501234567',
  metadata: { firstName: 'John', lastName: 'Doe' },
  attempts: 0,
}

const seedCampaign = seedCampaignDoc()

describe('contracts', () => {
  it('accepts the seed messages exactly', () => {
    expect(DialTask.parse(seedTask)).toEqual(seedTask)
    expect(Campaign.parse(seedCampaign)).toMatchObject(seedCampaign)
    const enriched = {
      ...seedTask,
      campaign: seedCampaign,
      enrichedAt: '2024-01-15T10:30:00.000Z',
      messageId: 'm-1',
    }
    expect(EnrichedDialTask.parse(enriched).campaign.timezone).toBe('Asia/Jerusalem')
    const command = {
      callId: 'call-campaign-123-contact-456-1705318245000',
      phoneNumber: '+972501234567',
      campaignId: 'campaign-123',
      contactId: 'contact-456',
      audioFileUrl: 'https://s3.amazonaws.com/bucket/audio.mp3',
      ivrFlow: seedCampaign.config.ivrFlow,
      metadata: { firstName: 'John', lastName: 'Doe' },
    }
    expect(DialCommand.parse(command)).toMatchObject(command)
  })

  it('validates phone numbers against the numbering plan, not just a regex', () => {
    expect(isE164('+972501234567')).toBe(true)
    expect(isE164('+14155552671')).toBe(true)
    expect(isE164('+1555')).toBe(false)
    expect(isE164('0501234567')).toBe(false)
    expect(isE164('+972 50 123 4567')).toBe(false)
    expect(isE164('+99912345678')).toBe(false)
  })

  it('names the field in errors', () => {
    const result = DialTask.safeParse({ ...seedTask, phoneNumber: '12', attempts: -1 })
    expect(result.success).toBe(false)
    const text = describeZodError(result.error!)
    expect(text).toContain('phoneNumber: must be a valid E.164')
    expect(text).toContain('attempts:')
  })

  it('rejects a bad time zone and a window that ends before it starts', () => {
    const bad = {
      ...seedCampaign,
      timezone: 'Mars/Olympus',
      config: { ...seedCampaign.config, callingWindows: [{ dayOfWeek: [1], startHour: 17, endHour: 9 }] },
    }
    const text = describeZodError(Campaign.safeParse(bad).error!)
    expect(text).toContain('timezone: must be an IANA time zone')
    expect(text).toContain('config.callingWindows.0.endHour: endHour must be after startHour')
  })
})

describe('phone masking', () => {
  it('masks the subscriber part', () => {
    expect(maskPhone('+972501234567')).toBe('+**********67')
    expect(maskPhonesIn('dial +972501234567 failed; retry +1 (415) 555-2671')).toBe(
      'dial +**********67 failed; retry +* (***) ***-**71',
    )
    expect(maskPhonesIn('call-campaign-123-contact-456-1705318245000')).toBe(
      'call-campaign-123-contact-456-1705318245000',
    )
  })
})

describe('validation once, at the boundary', () => {
  it('a time zone is checked with Intl once, then from the cache; invalid zones are not cached', () => {
    const made = vi.spyOn(Intl, 'DateTimeFormat')
    try {
      expect(isValidTimeZone('America/Argentina/Ushuaia')).toBe(true)
      expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false)
      const first = made.mock.calls.length
      expect(first).toBe(2)
      for (let i = 0; i < 5; i++) {
        expect(Campaign.parse({ ...seedCampaign, timezone: 'America/Argentina/Ushuaia' }).timezone).toBe(
          'America/Argentina/Ushuaia',
        )
        expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false)
      }
      // one construction per check of the invalid zone, none for the cached valid one
      expect(made.mock.calls.length).toBe(first + 5)
      expect(Campaign.safeParse({ ...seedCampaign, timezone: 'Mars/Olympus_Mons' }).success).toBe(false)
    } finally {
      made.mockRestore()
    }
  })

  it('dialCommandFor builds a value the worker will accept unchanged (typed, not parsed)', () => {
    const enriched = EnrichedDialTask.parse({
      ...seedTask,
      campaign: seedCampaign,
      enrichedAt: '2024-01-15T08:30:00.000Z',
      messageId: 'm-1',
    })
    const parse = vi.spyOn(DialCommand, 'parse')
    const command = dialCommandFor(enriched)
    expect(parse).not.toHaveBeenCalled()
    parse.mockRestore()
    // what the worker's boundary parse makes of it is exactly what was sent
    expect(DialCommand.parse(JSON.parse(JSON.stringify(command)))).toEqual(command)
    const { metadata: _none, ...withoutMetadata } = enriched
    const bare = dialCommandFor(withoutMetadata)
    expect(bare.metadata).toEqual({})
    expect(DialCommand.parse(JSON.parse(JSON.stringify(bare)))).toEqual(bare)
  })
})
