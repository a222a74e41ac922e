import type { Check, Observations } from './doctor.js'
import { errorText, MEDIA_WINDOW_MINUTES } from './doctor-checks.js'
import { describeAudioChecks } from '../telephony/audio-check.js'

/**
 * Campaign audio (issue #14): each active or paused campaign's audio URLs checked as Asterisk
 * will fetch them (audio-check.ts), and campaigns the media guard paused or whose calls hit media
 * failures in the window. Each verdict names the campaign and what to do.
 */
export function mediaChecks(o: Observations): Check[] {
  if (o.media instanceof Error)
    return [
      {
        id: 'campaign-audio',
        issue: 'media',
        title: 'Campaign audio plays',
        status: 'fail',
        detail: errorText(o.media),
      },
    ]
  const byUrl = new Map(o.audio.map((a) => [a.url, a]))
  const checks: Check[] = []
  const broken: string[] = []
  const warned: string[] = []
  let failActive = false
  for (const m of o.media) {
    const lines = describeAudioChecks(m.audioUrls.map((u) => byUrl.get(u)).filter((a) => a !== undefined))
    const failed = m.audioUrls.some((u) => byUrl.get(u)?.status === 'fail')
    if (failed) {
      broken.push(`${m.campaignId} (${m.status}): ${lines.join('; ')}`)
      if (m.status === 'active') failActive = true
    } else if (lines.length) warned.push(`${m.campaignId}: ${lines.join('; ')}`)
  }
  const urls = new Set(o.media.flatMap((m) => m.audioUrls)).size
  checks.push({
    id: 'campaign-audio',
    issue: 'media',
    title: 'Campaign audio plays on Asterisk',
    status: broken.length ? (failActive ? 'fail' : 'warn') : warned.length ? 'warn' : 'ok',
    detail:
      broken.length || warned.length
        ? [...broken, ...warned].join(' | ')
        : `${urls} audio URL(s) of ${o.media.length} campaign(s) checked`,
    ...(broken.length
      ? {
          cause: 'callers would hear silence: each such call is recorded failed (reason media) and retried',
          fix: 'publish an 8 kHz mono WAV at that URL with cache headers (docs/asterisk.md, "Audio"), then dialctl doctor again',
        }
      : warned.length
        ? {
            cause: 'playback may fail now and then',
            fix: 'serve the audio with Cache-Control: max-age=86400 (or an ETag)',
          }
        : {}),
  })
  const paused = o.media.filter((m) => m.status === 'paused' && m.guardPause)
  const failing = o.media.filter((m) => m.mediaFailures > 0 && !paused.includes(m))
  checks.push({
    id: 'media-failures',
    issue: 'media',
    title: `No campaign losing calls to media failures (last ${MEDIA_WINDOW_MINUTES} min)`,
    status: paused.length ? 'fail' : failing.length ? 'warn' : 'ok',
    detail:
      paused.length || failing.length
        ? [
            ...paused.map(
              (m) =>
                `${m.campaignId} paused by the media guard at ${m.guardPause!.at}: ${m.guardPause!.reason ?? ''}`,
            ),
            ...failing.map(
              (m) => `${m.campaignId}: audio failed on ${m.mediaFailures} of ${m.pickedUp} calls picked up`,
            ),
          ].join(' | ')
        : 'none',
    ...(paused.length
      ? {
          cause: 'its audio failed on most calls picked up, so the media guard paused it',
          fix: `fix the audio (check campaign-audio above), then dialctl campaign resume ${paused[0]!.campaignId}`,
        }
      : failing.length
        ? {
            cause:
              "Asterisk could not play the campaign's audio on some calls (URL, format, or its media cache)",
            fix: `dialctl campaign show ${failing[0]!.campaignId}; check the audio URL (campaign-audio above) and Asterisk's log`,
          }
        : {}),
  })
  return checks
}
