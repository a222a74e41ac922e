import type { Check, Observations } from './doctor.js'
import { errorText, MEDIA_WINDOW_MINUTES } from './doctor-checks.js'
import { describeAudioChecks, type AudioCheck } from '../telephony/audio-check.js'
import type { CampaignMedia } from './port.js'

/**
 * Campaign audio (issue #14): each active or paused campaign's audio URLs checked as Asterisk
 * will fetch them (audio-check.ts), and campaigns the media guard paused or whose calls hit media
 * failures in the window. Each verdict names the campaign and what to do. An active campaign's
 * broken audio fails — unless it is a test campaign: it dials reserved fictional numbers, nobody
 * hears it (the local stack's simulated callee does not even fetch it), so it warns (on a real
 * Asterisk its calls are recorded failed, reason media, which a load test's figures show).
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
  return [audioCheck(o.media, o.audio), mediaFailuresCheck(o.media)]
}

/** Each campaign's audio URLs as Asterisk will fetch them (the audio checks doctor ran). */
function audioCheck(media: CampaignMedia[], audio: AudioCheck[]): Check {
  const byUrl = new Map(audio.map((a) => [a.url, a]))
  const broken: string[] = []
  const warned: string[] = []
  let failActive = false
  for (const m of media) {
    const lines = describeAudioChecks(m.audioUrls.map((u) => byUrl.get(u)).filter((a) => a !== undefined))
    const failed = m.audioUrls.some((u) => byUrl.get(u)?.status === 'fail')
    if (failed) {
      broken.push(`${m.campaignId} (${m.status}): ${lines.join('; ')}`)
      if (m.status === 'active' && !m.isTest) failActive = true
    } else if (lines.length) warned.push(`${m.campaignId}: ${lines.join('; ')}`)
  }
  const urls = new Set(media.flatMap((m) => m.audioUrls)).size
  return {
    id: 'campaign-audio',
    issue: 'media',
    title: 'Campaign audio plays on Asterisk',
    status: broken.length ? (failActive ? 'fail' : 'warn') : warned.length ? 'warn' : 'ok',
    detail:
      broken.length || warned.length
        ? [...broken, ...warned].join(' | ')
        : `${urls} audio URL(s) of ${media.length} campaign(s) checked`,
    ...(broken.length
      ? {
          cause: failActive
            ? 'callers would hear silence: each such call is recorded failed (reason media) and retried'
            : 'a paused or test campaign: nobody hears it now; on a real Asterisk its calls would be recorded failed (reason media)',
          fix: 'publish an 8 kHz mono WAV at that URL with cache headers (docs/asterisk.md, "Audio"), then dialctl doctor again',
        }
      : warned.length
        ? {
            cause: 'playback may fail now and then',
            fix: 'serve the audio with Cache-Control: max-age=86400 (or an ETag)',
          }
        : {}),
  }
}

/** Campaigns the media guard paused, or whose calls hit media failures, in the window. */
function mediaFailuresCheck(media: CampaignMedia[]): Check {
  const paused = media.filter((m) => m.status === 'paused' && m.guardPause)
  const failing = media.filter((m) => m.mediaFailures > 0 && !paused.includes(m))
  return {
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
  }
}
