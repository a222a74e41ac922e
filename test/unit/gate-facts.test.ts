import { describe, expect, it } from 'vitest'
import { campaignFacts } from '../../src/calls/gate-statements.js'

/** A campaign row as gate_lock renders it (row_to_json of status, timezone, the gate's config keys). */
const rowText = (row: { status?: string; timezone?: string; config?: unknown } = {}) =>
  JSON.stringify({
    status: row.status ?? 'active',
    timezone: row.timezone ?? 'America/New_York',
    config: row.config ?? {
      callingWindows: [{ dayOfWeek: [1, 2, 3, 4, 5], startHour: 9, endHour: 21 }],
      maxAttemptsPerContact: 3,
    },
  })

describe('campaignFacts (the dial gate reads its campaign row once per row text)', () => {
  it('the same text is the same frozen facts; a row that changed in any way is read afresh', () => {
    const text = rowText({ timezone: 'Europe/Paris' })
    const first = campaignFacts(text)
    expect(campaignFacts(text)).toBe(first)
    expect(first).toEqual({
      status: 'active',
      timezone: 'Europe/Paris',
      config: JSON.parse(text).config,
      windows: [{ dayOfWeek: [1, 2, 3, 4, 5], startHour: 9, endHour: 21 }],
    })
    // shared by every dial of the campaign: nothing may change it
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.windows![0]!.dayOfWeek)).toBe(true)
    expect(() => {
      ;(first.windows![0] as { endHour: number }).endHour = 24
    }).toThrow(TypeError)

    const paused = campaignFacts(rowText({ timezone: 'Europe/Paris', status: 'paused' }))
    expect(paused).not.toBe(first)
    expect(paused.status).toBe('paused')
    const later = campaignFacts(
      rowText({
        timezone: 'Europe/Paris',
        config: { callingWindows: [{ dayOfWeek: [1], startHour: 10, endHour: 21 }] },
      }),
    )
    expect(later.windows).toEqual([{ dayOfWeek: [1], startHour: 10, endHour: 21 }])
    expect(campaignFacts(text)).toBe(first)
  })

  it('windows null when the config is not one the gate can read (refused campaign_invalid)', () => {
    for (const config of [
      {},
      { callingWindows: [] },
      { callingWindows: [{ dayOfWeek: [1], startHour: 17, endHour: 9 }] },
      { callingWindows: [{ dayOfWeek: [1], startHour: 9, endHour: 17 }], maxAttemptsPerContact: 0 },
    ])
      expect(campaignFacts(rowText({ config })).windows).toBeNull()
  })
})
