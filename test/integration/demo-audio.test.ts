import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getCampaign } from '../../src/campaigns/repository.js'
import {
  DEMO_SAMPLE_RATE,
  demoWav,
  startMediaServer,
  type MediaServer,
} from '../../src/local-stack/demo-audio.js'
import { DEMO_CAMPAIGN_ID, seedDemoCampaign } from '../../src/local-stack/demo.js'
import { audioUrlsOf, checkAudioUrl } from '../../src/telephony/audio-check.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

/** The demo prompt: a WAV a default Asterisk plays, served by the local stack, accepted by the audio check. */

let media: MediaServer
let tdb: TestDb
beforeAll(async () => {
  media = await startMediaServer({ port: 0 })
  tdb = await createTestDb('demo_audio')
})
afterAll(async () => {
  await media?.close()
  await tdb?.drop()
})

describe('demo prompt', () => {
  it('is RIFF/WAVE PCM, 8 kHz, mono, 16-bit, with sound in it', () => {
    const wav = demoWav()
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF')
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8)
    expect(wav.toString('ascii', 8, 16)).toBe('WAVEfmt ')
    expect({
      format: wav.readUInt16LE(20),
      channels: wav.readUInt16LE(22),
      rate: wav.readUInt32LE(24),
      byteRate: wav.readUInt32LE(28),
      align: wav.readUInt16LE(32),
      bits: wav.readUInt16LE(34),
    }).toEqual({ format: 1, channels: 1, rate: DEMO_SAMPLE_RATE, byteRate: 16000, align: 2, bits: 16 })
    expect(wav.toString('ascii', 36, 40)).toBe('data')
    const samples = wav.readUInt32LE(40) / 2
    expect(samples / DEMO_SAMPLE_RATE).toBeGreaterThan(1)
    expect(samples / DEMO_SAMPLE_RATE).toBeLessThan(5)
    let peak = 0
    for (let i = 0; i < samples; i++) peak = Math.max(peak, Math.abs(wav.readInt16LE(44 + i * 2)))
    expect(peak).toBeGreaterThan(10_000)
  })

  it('is served with cache headers and passes the audio check campaign create runs', async () => {
    const res = await fetch(media.audioUrl)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('audio/wav')
    expect(Buffer.from(await res.arrayBuffer())).toEqual(demoWav())
    const check = await checkAudioUrl(media.audioUrl)
    expect(check).toEqual({ url: media.audioUrl, status: 'ok', findings: [] })
    expect((await fetch(media.audioUrl.replace('.wav', '.mp3'))).status).toBe(404)
  })

  it('the demo campaign points at this media server, also when created by an older version', async () => {
    expect(await seedDemoCampaign(tdb.pool, media.audioUrl)).toBe(true)
    const created = await getCampaign(tdb.pool, DEMO_CAMPAIGN_ID)
    expect(audioUrlsOf(created!.campaign.config)).toEqual([media.audioUrl])
    // an older demo (the seed's mp3), or one served at another port: moved to this server's URL
    await tdb.pool.query(
      `UPDATE campaigns SET config = replace(config::text, $2, 'https://s3.amazonaws.com/bucket/audio.mp3')::jsonb WHERE id = $1`,
      [DEMO_CAMPAIGN_ID, media.audioUrl],
    )
    expect(await seedDemoCampaign(tdb.pool, media.audioUrl)).toBe(false)
    expect(audioUrlsOf((await getCampaign(tdb.pool, DEMO_CAMPAIGN_ID))!.campaign.config)).toEqual([
      media.audioUrl,
    ])
    const other = media.audioUrl.replace(/:\d+\//, ':7999/')
    await seedDemoCampaign(tdb.pool, other)
    expect(audioUrlsOf((await getCampaign(tdb.pool, DEMO_CAMPAIGN_ID))!.campaign.config)).toEqual([other])
    // an operator's own URL is left alone
    await tdb.pool.query(
      `UPDATE campaigns SET config = jsonb_set(config, '{audioFileUrl}', '"https://media.example.org/mine-8khz-mono.wav"') WHERE id = $1`,
      [DEMO_CAMPAIGN_ID],
    )
    await seedDemoCampaign(tdb.pool, media.audioUrl)
    expect((await getCampaign(tdb.pool, DEMO_CAMPAIGN_ID))!.campaign.config.audioFileUrl).toBe(
      'https://media.example.org/mine-8khz-mono.wav',
    )
  })
})
