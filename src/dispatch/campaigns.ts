import { CampaignConfig, CampaignStatus, describeZodError } from '../contracts/index.js'
import type { Db } from '../db/pool.js'

/** What the dispatcher needs of a campaign; the config is parsed (zod) on the way in. */
export interface DispatchCampaign {
  id: string
  status: CampaignStatus
  timezone: string
  config: CampaignConfig | null
  /** why config is null: the field and the problem */
  configError?: string
}

/**
 * The campaigns one run looks at: all active ones, or the one named (any status, so the caller
 * can report that it left `active`). Empty when the named campaign does not exist.
 */
export async function loadDispatchCampaigns(db: Db, campaignId?: string): Promise<DispatchCampaign[]> {
  const { rows } = await db.query<{ id: string; status: CampaignStatus; timezone: string; config: unknown }>(
    campaignId
      ? 'SELECT id, status, timezone, config FROM campaigns WHERE id = $1'
      : "SELECT id, status, timezone, config FROM campaigns WHERE status = 'active' ORDER BY id",
    campaignId ? [campaignId] : [],
  )
  return rows.map((r) => {
    const parsed = CampaignConfig.safeParse(r.config)
    return parsed.success
      ? { id: r.id, status: r.status, timezone: r.timezone, config: parsed.data }
      : {
          id: r.id,
          status: r.status,
          timezone: r.timezone,
          config: null,
          configError: describeZodError(parsed.error),
        }
  })
}
