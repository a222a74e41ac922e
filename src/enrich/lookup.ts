import type { Db } from '../db/pool.js'
import { campaignFromRow } from '../campaigns/repository.js'
import type { BatchCampaign, CampaignRow } from '../campaigns/repository.js'

export interface BatchLookup {
  /** campaigns by id; ids with no row are absent */
  campaigns: Map<string, BatchCampaign>
  /** the batch's numbers that are on the blacklist */
  blacklisted: Set<string>
}

/**
 * Everything enrich reads for one batch — its campaigns and which of its numbers are blacklisted —
 * in ONE statement, so a batch of 10 costs one round trip however many campaigns it names.
 */
export async function lookupBatch(
  db: Db,
  campaignIds: readonly string[],
  phoneNumbers: readonly string[],
): Promise<BatchLookup> {
  const { rows } = await db.query<{ campaigns: CampaignRow[]; blacklisted: string[] }>(
    `SELECT
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', id, 'name', name, 'type', type, 'status', status, 'config', config, 'timezone', timezone)),
               '[]'::jsonb)
          FROM campaigns WHERE id = ANY($1::text[])) AS campaigns,
       (SELECT coalesce(array_agg(phone_number), '{}'::text[])
          FROM blacklist WHERE phone_number = ANY($2::text[])) AS blacklisted`,
    [[...new Set(campaignIds)], [...new Set(phoneNumbers)]],
  )
  const row = rows[0] ?? { campaigns: [], blacklisted: [] }
  return {
    campaigns: new Map(row.campaigns.map((c) => [c.id, campaignFromRow(c)])),
    blacklisted: new Set(row.blacklisted),
  }
}
