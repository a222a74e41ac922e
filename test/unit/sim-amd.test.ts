import { describe, expect, it } from 'vitest'
import { SimDriver } from '../../worker/drivers/sim.js'
import { AmdConfig, CampaignConfig } from '../../src/contracts/campaign.js'
import { DialCommand, EnrichedDialTask } from '../../src/contracts/messages.js'
import { dialCommandFor } from '../../src/dialer/worker-client.js'
import { seedCampaign, seedFlow } from '../helpers/fixtures.js'

const request = (callId: string, amd?: 'hangup' | 'voicemail') => ({
  callId,
  phoneNumber: '+972501234567',
  ringTimeoutSeconds: 30,
  variables: {},
  ...(amd ? { amd } : {}),
})

describe('sim driver machineRate', () => {
  it('reports AMD verdicts at the configured machine rate, reproducibly', async () => {
    const run = async () => {
      const sim = new SimDriver({ answerRate: 1, busyRate: 0, machineRate: 0.3, speed: 0, seed: 7 })
      const verdicts: string[] = []
      for (let i = 0; i < 400; i++) {
        const { result, call } = await sim.originate(request(`c-${i}`, 'hangup'))
        expect(result.outcome).toBe('answered')
        verdicts.push(result.amd!.status)
        await call!.hangup()
      }
      return verdicts
    }
    const verdicts = await run()
    const machines = verdicts.filter((v) => v === 'MACHINE').length
    expect(machines / verdicts.length).toBeGreaterThan(0.22)
    expect(machines / verdicts.length).toBeLessThan(0.38)
    expect(verdicts.every((v) => v === 'MACHINE' || v === 'HUMAN')).toBe(true)
    expect(await run()).toEqual(verdicts)
  })

  it('without AMD asked for, a machine answers like anyone and presses nothing', async () => {
    const sim = new SimDriver({ answerRate: 1, busyRate: 0, machineRate: 1, speed: 0, dtmf: { '1': 1 } })
    const { result, call } = await sim.originate(request('c-1'))
    expect(result).toEqual({ outcome: 'answered' })
    expect(await call!.collectDigit(1)).toEqual({ kind: 'timeout' })
  })

  it('machineRate 0 (the default) keeps every seeded outcome as before', async () => {
    const a = new SimDriver({ seed: 3, speed: 0 })
    const b = new SimDriver({ seed: 3, speed: 0, machineRate: 0 })
    for (let i = 0; i < 50; i++) {
      const [ra, rb] = [await a.originate(request(`c-${i}`)), await b.originate(request(`c-${i}`))]
      expect(rb.result).toEqual(ra.result)
    }
  })

  it('refuses a machineRate outside 0–1, naming it', () => {
    expect(() => new SimDriver({ machineRate: 1.5 })).toThrow(/machineRate/)
  })
})

describe('campaign amd option', () => {
  it('accepts off, hangup and voicemail with a message URL; absent means off', () => {
    const config = seedCampaign().config
    expect(CampaignConfig.parse(config).amd).toBeUndefined()
    for (const amd of [
      { mode: 'off' },
      { mode: 'hangup' },
      { mode: 'voicemail', messageUrl: 'http://m/vm.wav' },
    ])
      expect(CampaignConfig.parse({ ...config, amd }).amd).toEqual(amd)
  })

  it('names the field when the option is wrong', () => {
    const config = seedCampaign().config
    const noUrl = CampaignConfig.safeParse({ ...config, amd: { mode: 'voicemail' } })
    expect(noUrl.success).toBe(false)
    expect(noUrl.error!.issues[0]!.path).toEqual(['amd', 'messageUrl'])
    const bad = AmdConfig.safeParse({ mode: 'detect' })
    expect(bad.success).toBe(false)
    expect(bad.error!.issues[0]!.path).toEqual(['mode'])
  })

  it('travels in the dial command', () => {
    const cmd = DialCommand.parse({
      callId: 'c',
      phoneNumber: '+972501234567',
      campaignId: 'x',
      contactId: 'y',
      audioFileUrl: 'http://m/a.wav',
      ivrFlow: seedFlow(),
      amd: { mode: 'hangup' },
    })
    expect(cmd.amd).toEqual({ mode: 'hangup' })
  })

  it('enrich → dialer → worker: the campaign amd reaches the dial command; off is left out', () => {
    const base = seedCampaign()
    const task = (amd: unknown) =>
      EnrichedDialTask.parse({
        campaignId: base.id,
        contactId: 'k1',
        phoneNumber: '+972501234567',
        attempts: 0,
        campaign: { ...base, config: { ...base.config, amd } },
        enrichedAt: '2024-01-15T08:30:00.000Z',
        messageId: 'm-1',
      })
    const voicemail = { mode: 'voicemail', messageUrl: 'http://m/vm.wav' }
    expect(dialCommandFor(task(voicemail)).amd).toEqual(voicemail)
    expect(dialCommandFor(task({ mode: 'off' })).amd).toBeUndefined()
    const cmd = dialCommandFor(task({ mode: 'hangup' }))
    expect(DialCommand.parse(JSON.parse(JSON.stringify(cmd))).amd).toEqual({ mode: 'hangup' })
  })
})
