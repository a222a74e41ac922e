import type { Db } from '../db/pool.js'
import { getCampaign, saveCampaign } from '../campaigns/repository.js'
import { testNumber } from '../tasks/test-numbers.js'
import { DEFAULT_MEDIA_PORT, DEMO_AUDIO_PATH } from './demo-audio.js'

export const DEMO_CAMPAIGN_ID = 'demo'

/** The demo prompt's URL on the local stack's media server at its default port (demo-audio.ts). */
export const DEMO_AUDIO_URL = `http://127.0.0.1:${DEFAULT_MEDIA_PORT}${DEMO_AUDIO_PATH}`

/** The seed's audio URL, which the demo used before: an mp3 a default Asterisk cannot play. */
const SEED_MP3_URL = 'https://s3.amazonaws.com/bucket/audio.mp3'

/**
 * The seed's campaign, open around the clock, marked as a test campaign: safe to load-test. Its
 * prompt is the WAV the local stack serves itself (no internet; plays on a default Asterisk).
 */
export const demoCampaign = {
  id: DEMO_CAMPAIGN_ID,
  name: 'Demo donation drive (simulated callees)',
  type: 'voice',
  status: 'active',
  timezone: 'UTC',
  config: {
    audioFileUrl: DEMO_AUDIO_URL,
    ivrFlow: {
      startNodeId: 'node-1',
      nodes: [
        {
          id: 'node-1',
          type: 'play_audio',
          audioUrl: DEMO_AUDIO_URL,
          nextNodeId: 'node-2',
        },
        {
          id: 'node-2',
          type: 'capture_input',
          timeout: 10,
          validInputs: ['1', '9'],
          actions: {
            '1': { type: 'trigger_donation', parameters: {} },
            '9': { type: 'add_to_blacklist', parameters: {} },
          },
        },
      ],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 100,
    maxAttemptsPerContact: 3,
    retryDelayMinutes: 1,
  },
}

/** The demo campaign with its prompt at `audioUrl` (the running stack's media server). */
export function demoCampaignFor(audioUrl: string): typeof demoCampaign {
  const campaign = structuredClone(demoCampaign)
  campaign.config.audioFileUrl = audioUrl
  for (const node of campaign.config.ivrFlow.nodes) if ('audioUrl' in node) node.audioUrl = audioUrl
  return campaign
}

/**
 * Creates the demo campaign on first run; later runs leave it (and any edits) alone, except the
 * demo's own prompt URLs — the seed's mp3 of older versions, or the media server at another port —
 * which are pointed at this stack's media server (`audioUrl`).
 */
export async function seedDemoCampaign(db: Db, audioUrl: string = DEMO_AUDIO_URL): Promise<boolean> {
  if (await getCampaign(db, DEMO_CAMPAIGN_ID)) {
    await db.query(
      `UPDATE campaigns SET config = regexp_replace(config::text, $2, $3, 'g')::jsonb
        WHERE id = $1 AND config::text ~ $2`,
      [DEMO_CAMPAIGN_ID, demoUrlPattern(), audioUrl],
    )
    return false
  }
  await saveCampaign(db, demoCampaignFor(audioUrl), { mode: 'insert', isTest: true })
  return true
}

/** A POSIX regex matching the demo's own prompt URLs inside the config's JSON text. */
function demoUrlPattern(): string {
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return `(${escape(SEED_MP3_URL)}|http://[^"]*${escape(DEMO_AUDIO_PATH)})`
}

/**
 * Adds `count` pending contacts with reserved test numbers to the demo campaign, so the
 * dispatcher has work to feed the pipeline. Numbers continue after the ones already there.
 */
export async function addDemoContacts(db: Db, count: number): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM contacts WHERE campaign_id = $1',
    [DEMO_CAMPAIGN_ID],
  )
  const start = Number(rows[0]?.n ?? 0)
  const ids: string[] = []
  const phones: string[] = []
  for (let i = start; i < start + count; i++) {
    ids.push(`demo-${String(i).padStart(6, '0')}`)
    phones.push(testNumber(i))
  }
  const result = await db.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, metadata)
     SELECT $1, id, phone, '{"source":"demo"}'::jsonb FROM unnest($2::text[], $3::text[]) AS t(id, phone)
     ON CONFLICT DO NOTHING`,
    [DEMO_CAMPAIGN_ID, ids, phones],
  )
  return result.rowCount ?? 0
}
