import type { Db } from '../db/pool.js'
import { campaignFromRow } from '../campaigns/repository.js'
import type { BatchCampaign, CampaignRow } from '../campaigns/repository.js'
import type { ContactZoneFields } from '../campaigns/window.js'

export interface BatchLookup {
  /** campaigns by id; ids with no row are absent */
  campaigns: Map<string, BatchCampaign>
  /** the batch's numbers that are on the blacklist */
  blacklisted: Set<string>
  /** callee zone fields by contactKey(campaignId, contactId); contacts with no row are absent */
  contactZones: Map<string, ContactZoneFields>
}

export const contactKey = (campaignId: string, contactId: string) => JSON.stringify([campaignId, contactId])

/**
 * Everything enrich reads for one batch — its campaigns, which of its numbers are blacklisted, and
 * its contacts' callee zones —
 * in ONE statement, so a batch of 10 costs one round trip however many campaigns it names.
 */
export async function lookupBatch(
  db: Db,
  campaignIds: readonly string[],
  phoneNumbers: readonly string[],
  contacts: readonly { campaignId: string; contactId: string }[] = [],
): Promise<BatchLookup> {
  const { rows } = await db.query<{
    campaigns: CampaignRow[]
    blacklisted: string[]
    zones: { c: string; k: string; tz: string | null; zones: string[] | null }[] | null
  }>(
    `SELECT
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', id, 'name', name, 'type', type, 'status', status, 'config', config, 'timezone', timezone)),
               '[]'::jsonb)
          FROM campaigns WHERE id = ANY($1::text[])) AS campaigns,
       (SELECT coalesce(array_agg(phone_number), '{}'::text[])
          FROM blacklist WHERE phone_number = ANY($2::text[])) AS blacklisted,
       (SELECT jsonb_agg(jsonb_build_object('c', c.campaign_id, 'k', c.id, 'tz', c.timezone, 'zones', c.number_timezones))
          FROM contacts c JOIN unnest($3::text[], $4::text[]) AS r(campaign_id, id)
            ON c.campaign_id = r.campaign_id AND c.id = r.id) AS zones`,
    [
      [...new Set(campaignIds)],
      [...new Set(phoneNumbers)],
      contacts.map((c) => c.campaignId),
      contacts.map((c) => c.contactId),
    ],
  )
  const row = rows[0] ?? { campaigns: [], blacklisted: [], zones: [] }
  return {
    campaigns: new Map(row.campaigns.map((c) => [c.id, campaignFromRow(c)])),
    blacklisted: new Set(row.blacklisted),
    contactZones: new Map(
      (row.zones ?? []).map((z) => [contactKey(z.c, z.k), { timezone: z.tz, numberTimezones: z.zones }]),
    ),
  }
}
