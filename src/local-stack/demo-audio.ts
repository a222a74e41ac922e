import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The demo campaign's prompt, made here and served by the local stack itself: the demo needs no
 * internet, and the file is one a default Asterisk plays (format_wav: 8 kHz, mono, 16-bit PCM),
 * unlike the seed's mp3 (format_mp3 is not built by default).
 */

export const DEMO_SAMPLE_RATE = 8000

/** Path of the prompt on the media server. Long on purpose: Asterisk's media cache fails on URLs
 * shorter than its cache path (~72 characters, asterisk/asterisk#444; see audio-check.ts). */
export const DEMO_AUDIO_PATH = '/media/dialctl-demo-appeal-8khz-mono-16bit-pcm-tones.wav'

/** A tone sequence (A4, C#5, E5: a rising chime) with short gaps, then half a second of silence. */
const TONES: Array<{ hz: number; ms: number }> = [
  { hz: 440, ms: 300 },
  { hz: 0, ms: 80 },
  { hz: 554.37, ms: 300 },
  { hz: 0, ms: 80 },
  { hz: 659.25, ms: 450 },
  { hz: 0, ms: 500 },
]

/**
 * The prompt as a RIFF/WAVE file (PCM format 1, 8000 Hz, 1 channel, 16 bits): ~1.7 s, ~27 KB.
 * Each tone fades in and out over 10 ms so it does not click.
 */
export function demoWav(): Buffer {
  const samples: number[] = []
  const fade = Math.round(DEMO_SAMPLE_RATE * 0.01)
  for (const { hz, ms } of TONES) {
    const n = Math.round((DEMO_SAMPLE_RATE * ms) / 1000)
    for (let i = 0; i < n; i++) {
      const envelope = Math.min(1, i / fade, (n - 1 - i) / fade)
      samples.push(
        hz === 0
          ? 0
          : Math.round(0.4 * 32767 * envelope * Math.sin((2 * Math.PI * hz * i) / DEMO_SAMPLE_RATE)),
      )
    }
  }
  const dataBytes = samples.length * 2
  const wav = Buffer.alloc(44 + dataBytes)
  wav.write('RIFF', 0, 'ascii')
  wav.writeUInt32LE(36 + dataBytes, 4)
  wav.write('WAVE', 8, 'ascii')
  wav.write('fmt ', 12, 'ascii')
  wav.writeUInt32LE(16, 16) // fmt chunk size
  wav.writeUInt16LE(1, 20) // PCM
  wav.writeUInt16LE(1, 22) // mono
  wav.writeUInt32LE(DEMO_SAMPLE_RATE, 24)
  wav.writeUInt32LE(DEMO_SAMPLE_RATE * 2, 28) // byte rate
  wav.writeUInt16LE(2, 32) // block align
  wav.writeUInt16LE(16, 34) // bits per sample
  wav.write('data', 36, 'ascii')
  wav.writeUInt32LE(dataBytes, 40)
  samples.forEach((s, i) => wav.writeInt16LE(s, 44 + i * 2))
  return wav
}

export interface MediaServer {
  /** the prompt's URL, as the worker and Asterisk fetch it */
  readonly audioUrl: string
  readonly port: number
  close(): Promise<void>
}

/** Default port of the local media server (DIALCTL_MEDIA_PORT); 0 when taken falls back to any free one. */
export const DEFAULT_MEDIA_PORT = 7089

/**
 * Serves the demo prompt over HTTP with the cache headers res_http_media_cache needs (ETag,
 * Last-Modified, Cache-Control: asterisk/asterisk#1689) and Range support (the audio check reads
 * one byte). `host` is the address it binds to; `publicHost` the one put in the URL — set it
 * (DIALCTL_MEDIA_HOST) to an address a real Asterisk on another machine can reach.
 */
export async function startMediaServer(
  options: { host?: string; publicHost?: string; port?: number } = {},
): Promise<MediaServer> {
  const body = demoWav()
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`
  const lastModified = new Date(Date.UTC(2026, 0, 1)).toUTCString()
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== DEMO_AUDIO_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`only ${DEMO_AUDIO_PATH} is served here\n`)
      return
    }
    const headers = {
      'Content-Type': 'audio/wav',
      ETag: etag,
      'Last-Modified': lastModified,
      'Cache-Control': 'public, max-age=86400',
      'Accept-Ranges': 'bytes',
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    if (range) {
      const start = Number(range[1])
      const end = Math.min(range[2] ? Number(range[2]) : body.length - 1, body.length - 1)
      if (start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end()
        return
      }
      const part = body.subarray(start, end + 1)
      res.writeHead(206, {
        ...headers,
        'Content-Range': `bytes ${start}-${end}/${body.length}`,
        'Content-Length': part.length,
      })
      res.end(req.method === 'HEAD' ? undefined : part)
      return
    }
    res.writeHead(200, { ...headers, 'Content-Length': body.length })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  const host = options.host ?? '127.0.0.1'
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      server.once('error', onError)
      server.listen(port, host, () => {
        server.off('error', onError)
        resolve()
      })
    })
  const wanted = options.port ?? DEFAULT_MEDIA_PORT
  try {
    await listen(wanted)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || wanted === 0) throw error
    await listen(0) // another stack has the default port: any free one (the demo URL follows)
  }
  const port = (server.address() as AddressInfo).port
  const publicHost = options.publicHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)
  return {
    audioUrl: `http://${publicHost}:${port}${DEMO_AUDIO_PATH}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
