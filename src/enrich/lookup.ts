import type { Db } from '../db/pool.js'
import { campaignFromRow } from '../campaigns/repository.js'
import type { BatchCampaign, CampaignRow } from '../campaigns/repository.js'
import type { ContactZoneFields } from '../campaigns/window.js'
import { ParsedTextCache } from '../parsed-text-cache.js'

export interface BatchLookup {
  /** campaigns by id; ids with no row are absent */
  campaigns: Map<string, BatchCampaign>
  /** the batch's numbers that are on the blacklist */
  blacklisted: Set<string>
  /** callee zone fields by contactKey(campaignId, contactId); contacts with no row are absent */
  contactZones: Map<string, ContactZoneFields>
}

export const contactKey = (campaignId: string, contactId: string) => JSON.stringify([campaignId, contactId])

/** A campaign row parsed at the database boundary: its id, and the Campaign or why it is not one. */
interface ParsedCampaignRow {
  id: string
  campaign: BatchCampaign
}

/**
 * Campaign rows parsed lately, keyed by the row's exact JSON text as PostgreSQL rendered it: the
 * zod parse of a campaign (IVR flow, windows, size rule) was most of the lookup's CPU, repeated on
 * every batch for the same few rows (issue #17). Any change to a row changes its text, so it is
 * parsed again at once. 100 rows and 4 M characters of row text at most: a config is at most
 * MAX_CAMPAIGN_CONFIG_BYTES (~188 KiB), so the largest still fit by the dozen.
 */
const parsedRows = new ParsedTextCache<ParsedCampaignRow>(100, 4_000_000)

/** The row behind `text` (one element of the lookup's `campaigns`), parsed once per distinct text. */
export function parsedCampaignRow(text: string): ParsedCampaignRow {
  return parsedRows.get(text, (t) => {
    const row = JSON.parse(t) as CampaignRow
    // frozen by the cache: one parse is shared by every batch (and every task) that reads this row text
    return { id: row.id, campaign: campaignFromRow(row) }
  })
}

/**
 * Everything enrich reads for one batch — its campaigns, which of its numbers are blacklisted, and
 * its contacts' callee zones —
 * in ONE statement, so a batch of 10 costs one round trip however many campaigns it names. Each
 * campaign row comes as its JSON text and is parsed through parsedCampaignRow (a row seen before
 * with the same text is not parsed again).
 */
export async function lookupBatch(
  db: Db,
  campaignIds: readonly string[],
  phoneNumbers: readonly string[],
  contacts: readonly { campaignId: string; contactId: string }[] = [],
): Promise<BatchLookup> {
  const { rows } = await db.query<{
    /** each campaign row as JSON text (parsedCampaignRow's key) */
    campaigns: string[]
    blacklisted: string[]
    zones: { c: string; k: string; tz: string | null; zones: string[] | null }[] | null
  }>(
    `SELECT
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', id, 'name', name, 'type', type, 'status', status, 'config', config, 'timezone', timezone)::text),
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
    campaigns: new Map(
      row.campaigns.map((text) => {
        const parsed = parsedCampaignRow(text)
        return [parsed.id, parsed.campaign]
      }),
    ),
    blacklisted: new Set(row.blacklisted),
    contactZones: new Map(
      (row.zones ?? []).map((z) => [contactKey(z.c, z.k), { timezone: z.tz, numberTimezones: z.zones }]),
    ),
  }
}
