import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { audioUrlsOf, checkAudioUrl, MIN_SAFE_URL_LENGTH } from '../../src/telephony/audio-check.js'

let server: Server
let base = ''
const LONG = '/campaign-audio/donation-drive-2024-appeal-8khz-mono'

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!
    if (path === `${LONG}.wav`) res.writeHead(200, { 'content-type': 'audio/wav', etag: '"v1"' }).end('R')
    else if (path === `${LONG}-nocache.wav`) res.writeHead(200, { 'content-type': 'audio/wav' }).end('R')
    else if (path === `${LONG}.mp3`)
      res.writeHead(200, { 'content-type': 'audio/mpeg', etag: '"v1"' }).end('I')
    else if (path === '/a.wav') res.writeHead(200, { 'content-type': 'audio/wav', etag: '"v1"' }).end('R')
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

const levels = async (url: string) => {
  const check = await checkAudioUrl(url, { timeoutMs: 2_000 })
  return { status: check.status, problems: check.findings.map((f) => f.problem) }
}

describe('audio URL check (what Asterisk will fetch and play)', () => {
  it('a reachable WAV with cache headers and a safe length is ok', async () => {
    expect(await levels(`${base}${LONG}.wav`)).toEqual({ status: 'ok', problems: [] })
  })

  it('mp3 fails (no format_mp3 on a default Asterisk), naming the conversion', async () => {
    const check = await checkAudioUrl(`${base}${LONG}.mp3`)
    expect(check.status).toBe('fail')
    expect(check.findings[0]).toMatchObject({
      problem: expect.stringMatching(/mp3.*format_mp3/),
      fix: expect.stringMatching(/sox/),
    })
  })

  it('no cache headers is a warning (#1689)', async () => {
    const check = await levels(`${base}${LONG}-nocache.wav`)
    expect(check.status).toBe('warn')
    expect(check.problems).toEqual([expect.stringMatching(/no ETag.*1689/)])
  })

  it('404 and unreachable fail', async () => {
    expect((await levels(`${base}${LONG}-missing.wav`)).problems).toEqual(['answers HTTP 404'])
    const closed = await levels(`http://127.0.0.1:1${LONG}.wav`)
    expect(closed.status).toBe('fail')
    expect(closed.problems[0]).toMatch(/unreachable/)
  })

  it('a URL shorter than the media cache path fails (#444), with a longer one as the fix', async () => {
    const short = `${base}/a.wav`
    expect(short.length).toBeLessThan(MIN_SAFE_URL_LENGTH)
    const check = await checkAudioUrl(short)
    expect(check.status).toBe('fail')
    expect(check.findings[0]!.fix.length).toBeGreaterThan(0)
    const fixed = /e\.g\. (\S+)/.exec(check.findings[0]!.fix)![1]!
    expect(fixed.length).toBeGreaterThanOrEqual(MIN_SAFE_URL_LENGTH)
    expect((await levels(fixed)).status).toBe('ok')
  })

  it('server-side sound names are skipped; other schemes fail', async () => {
    expect((await checkAudioUrl('sound:custom/appeal')).status).toBe('skip')
    expect((await checkAudioUrl('ftp://files.example/appeal.wav')).status).toBe('fail')
  })

  it('audioUrlsOf lists audioFileUrl and each play_audio node once', () => {
    expect(
      audioUrlsOf({
        audioFileUrl: 'https://a.example/x.wav',
        ivrFlow: {
          nodes: [
            { type: 'play_audio', audioUrl: 'https://a.example/x.wav' },
            { type: 'play_audio', audioUrl: 'https://a.example/y.wav' },
            { type: 'capture_input' },
          ],
        },
      }),
    ).toEqual(['https://a.example/x.wav', 'https://a.example/y.wav'])
  })

  it('audioUrlsOf includes the AMD voicemail message, only in voicemail mode', () => {
    const config = { audioFileUrl: 'https://a.example/x.wav', ivrFlow: { nodes: [] } }
    expect(
      audioUrlsOf({ ...config, amd: { mode: 'voicemail', messageUrl: 'https://a.example/vm.wav' } }),
    ).toEqual(['https://a.example/x.wav', 'https://a.example/vm.wav'])
    expect(audioUrlsOf({ ...config, amd: { mode: 'hangup' } })).toEqual(['https://a.example/x.wav'])
  })
})
