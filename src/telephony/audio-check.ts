import { bestEffort, errorMessage } from '../errors.js'
/**
 * Checks a campaign's audio URL the way Asterisk will fetch and play it (`sound:<url>` through
 * res_http_media_cache), so a campaign is not started to play silence. Each finding says what to
 * fix. Rules and their sources:
 * - format: Asterisk picks the format from the file extension (or Content-Type); a default build
 *   plays WAV, ulaw/alaw, sln, gsm, g722; **mp3 needs format_mp3**, which is not built by default
 *   (recorded: the seed's mp3 URL fails on Asterisk 22 with PlaybackFinished "failed");
 * - cache headers: without ETag / Last-Modified / Cache-Control, concurrent calls re-download the
 *   file and playback fails now and then (asterisk/asterisk#1689; 3 of 62 calls in our run);
 * - length: a URL shorter than the file's path in Asterisk's media cache fails to play
 *   (asterisk/asterisk#444): with the default astcachedir the path is about
 *   MIN_SAFE_URL_LENGTH characters, so shorter URLs are refused;
 * - reachable: answers 2xx to GET (HEAD is not enough: some servers refuse it).
 */

export type AudioFindingLevel = 'fail' | 'warn'

export interface AudioFinding {
  level: AudioFindingLevel
  problem: string
  fix: string
}

export interface AudioCheck {
  url: string
  status: 'ok' | AudioFindingLevel | 'skip'
  findings: AudioFinding[]
}

/** Extensions a default Asterisk 22 build plays (format_wav, format_pcm, format_sln, format_gsm, format_g722). */
export const PLAYABLE_EXTENSIONS = [
  'alaw',
  'al',
  'g722',
  'gsm',
  'pcm',
  'sln',
  'sln16',
  'ul',
  'ulaw',
  'wav',
] as const

/**
 * Asterisk's media cache stores a download as `<astcachedir>/media_cache/<uuid>.<ext>` —
 * `/var/cache/asterisk/media_cache/` + 36 + extension ≈ 72 characters by default; a URL shorter
 * than that path fails (asterisk/asterisk#444). Padding a URL with a query (`?v=2024-campaign`) fixes it.
 */
export const MIN_SAFE_URL_LENGTH = 72

const CONVERT = 'convert it to 8 kHz mono WAV (sox in.mp3 -r 8000 -c 1 -b 16 out.wav) and serve that'

export interface AudioCheckOptions {
  fetch?: typeof fetch
  timeoutMs?: number
}

/** Checks one audio URL; `sound:`-style names on the Asterisk server are skipped (nothing to fetch). */
export async function checkAudioUrl(url: string, options: AudioCheckOptions = {}): Promise<AudioCheck> {
  const value = url.trim()
  if (!/^https?:\/\//i.test(value)) {
    if (
      /^[a-z][a-z0-9+.-]*:/i.test(value) &&
      !/^(sound|recording|number|digits|characters|tone):/.test(value)
    )
      return {
        url,
        status: 'fail',
        findings: [
          { level: 'fail', problem: 'a scheme Asterisk cannot play', fix: 'use http(s)://… or sound:<name>' },
        ],
      }
    return { url, status: 'skip', findings: [] }
  }
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    return {
      url,
      status: 'fail',
      findings: [{ level: 'fail', problem: 'not a valid URL', fix: 'fix the URL' }],
    }
  }
  const ext = /\.([a-z0-9]+)$/i.exec(parsed.pathname)?.[1]?.toLowerCase()
  const findings = [...urlFindings(value, parsed, ext), ...(await fetchFindings(value, ext, options))]
  const status = findings.some((f) => f.level === 'fail') ? 'fail' : findings.length ? 'warn' : 'ok'
  return { url, status, findings }
}

/** What the URL's text alone tells: commas, the format by extension, a length under the cache path's. */
function urlFindings(value: string, parsed: URL, ext: string | undefined): AudioFinding[] {
  const findings: AudioFinding[] = []
  if (value.includes(','))
    findings.push({
      level: 'fail',
      problem: 'contains a comma (ARI splits media on commas)',
      fix: 'rename the file',
    })
  if (ext === 'mp3')
    findings.push({
      level: 'fail',
      problem: 'mp3: a default Asterisk cannot play it (needs format_mp3)',
      fix: CONVERT,
    })
  else if (ext && !(PLAYABLE_EXTENSIONS as readonly string[]).includes(ext))
    findings.push({ level: 'fail', problem: `.${ext}: not a format a default Asterisk plays`, fix: CONVERT })
  if (value.length < MIN_SAFE_URL_LENGTH)
    findings.push({
      level: 'fail',
      problem: `URL is ${value.length} characters, shorter than Asterisk's media cache path (~${MIN_SAFE_URL_LENGTH}): playback fails (asterisk/asterisk#444)`,
      fix: `lengthen it, e.g. ${value}${parsed.search ? '&' : '?'}v=${'x'.repeat(Math.max(1, MIN_SAFE_URL_LENGTH - value.length - 3))}`,
    })
  return findings
}

/** What a one-byte GET tells (bounded by `timeoutMs`, default 5 s): reachable, the format, cacheable. */
async function fetchFindings(
  value: string,
  ext: string | undefined,
  options: AudioCheckOptions,
): Promise<AudioFinding[]> {
  const doFetch = options.fetch ?? fetch
  let response: Response
  try {
    response = await doFetch(value, {
      method: 'GET',
      headers: { Range: 'bytes=0-0' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    })
    if (response.body)
      await bestEffort(response.body.cancel(), 'only the status matters; the body is not read')
  } catch (error) {
    return [
      {
        level: 'fail',
        problem: `unreachable from here (${errorMessage(error)})`,
        fix: 'check the URL; Asterisk must be able to fetch it too',
      },
    ]
  }
  if (!response.ok)
    return [
      {
        level: 'fail',
        problem: `answers HTTP ${response.status}`,
        fix: 'publish the file at this URL (Asterisk fetches it without credentials)',
      },
    ]
  const findings: AudioFinding[] = []
  const type = response.headers.get('content-type') ?? ''
  if (!ext && !/audio\/(wav|x-wav|wave|basic|x-ulaw|x-alaw)/i.test(type))
    findings.push({
      level: 'fail',
      problem: `no file extension and Content-Type "${type || 'none'}": Asterisk cannot tell the format`,
      fix: 'serve it as …/name.wav (or with Content-Type audio/wav)',
    })
  if (/mpeg|mp3/i.test(type) && ext !== 'mp3')
    findings.push({ level: 'fail', problem: `served as ${type} (mp3)`, fix: CONVERT })
  const cacheable = ['etag', 'last-modified', 'cache-control'].some((h) => response.headers.has(h))
  if (!cacheable)
    findings.push({
      level: 'warn',
      problem:
        'no ETag, Last-Modified or Cache-Control: Asterisk re-downloads it for concurrent calls and playback fails now and then (asterisk/asterisk#1689)',
      fix: 'serve it with Cache-Control: max-age=86400 (or an ETag)',
    })
  return findings
}

/**
 * Every audio URL a campaign config names: audioFileUrl, each play_audio node's audioUrl and the
 * AMD voicemail message (amd.messageUrl), once each.
 */
export function audioUrlsOf(config: unknown): string[] {
  const urls = new Set<string>()
  const c = config as {
    audioFileUrl?: unknown
    ivrFlow?: { nodes?: Array<{ type?: unknown; audioUrl?: unknown }> }
    amd?: { mode?: unknown; messageUrl?: unknown }
  }
  if (typeof c?.audioFileUrl === 'string') urls.add(c.audioFileUrl)
  for (const node of c?.ivrFlow?.nodes ?? [])
    if (node?.type === 'play_audio' && typeof node.audioUrl === 'string') urls.add(node.audioUrl)
  if (c?.amd?.mode === 'voicemail' && typeof c.amd.messageUrl === 'string') urls.add(c.amd.messageUrl)
  return [...urls]
}

/** One line per problem, for an operator: "audioUrl <url>: <problem> — <fix>". */
export function describeAudioChecks(checks: AudioCheck[]): string[] {
  return checks.flatMap((c) =>
    c.findings.map((f) => `${f.level === 'fail' ? '✗' : '!'} ${c.url}: ${f.problem} — ${f.fix}`),
  )
}
