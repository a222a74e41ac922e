import type { Db } from '../db/pool.js'
import { getCampaign, saveCampaign } from '../campaigns/repository.js'
import { testNumber } from '../tasks/test-numbers.js'

export const DEMO_CAMPAIGN_ID = 'demo'

/** The seed's campaign, open around the clock, marked as a test campaign: safe to load-test. */
export const demoCampaign = {
  id: DEMO_CAMPAIGN_ID,
  name: 'Demo donation drive (simulated callees)',
  type: 'voice',
  status: 'active',
  timezone: 'UTC',
  config: {
    audioFileUrl: 'https://s3.amazonaws.com/bucket/audio.mp3',
    ivrFlow: {
      startNodeId: 'node-1',
      nodes: [
        {
          id: 'node-1',
          type: 'play_audio',
          audioUrl: 'https://s3.amazonaws.com/bucket/audio.mp3',
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

/** Creates the demo campaign on first run; later runs leave it (and any edits) alone. */
export async function seedDemoCampaign(db: Db): Promise<boolean> {
  if (await getCampaign(db, DEMO_CAMPAIGN_ID)) return false
  await saveCampaign(db, demoCampaign, { mode: 'insert', isTest: true })
  return true
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
