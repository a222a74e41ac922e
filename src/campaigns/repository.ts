import { Campaign, describeZodError } from '../contracts/index.js'
import type { CampaignStatus } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { formatIssues, validateCampaign } from '../ivr/validate.js'
import type { ValidationIssue } from '../ivr/validate.js'

/** A campaign document was rejected; `issues` lists every problem with its path. */
export class CampaignValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(`campaign is not valid:\n${formatIssues(issues)}`)
    this.name = 'CampaignValidationError'
  }
}

/** `saveCampaign(..., {mode: 'insert'})` found a campaign with that id already. */
export class CampaignExistsError extends Error {
  constructor(readonly campaignId: string) {
    super(`campaign "${campaignId}" already exists; pick another id`)
    this.name = 'CampaignExistsError'
  }
}

/** A stored row no longer matches the Campaign schema (edited by hand, or an older version). */
export class StoredCampaignInvalidError extends Error {
  constructor(
    readonly campaignId: string,
    readonly detail: string,
  ) {
    super(
      `stored campaign "${campaignId}" does not match the schema (${detail}); create a fixed copy under a new id (dialctl campaign create --file …) and cancel this one`,
    )
    this.name = 'StoredCampaignInvalidError'
  }
}

/** The seed's Campaign plus what the database keeps about it. */
export interface StoredCampaign {
  campaign: Campaign
  isTest: boolean
  createdAt: Date
  updatedAt: Date
}

export interface SaveOptions {
  /** 'insert' refuses an existing id (campaign create); 'upsert' replaces it (default) */
  mode?: 'insert' | 'upsert'
  /** load tests may only target campaigns marked as test campaigns */
  isTest?: boolean
}

export interface CampaignRow {
  id: string
  name: string
  type: string
  status: string
  config: unknown
  timezone: string
  is_test?: boolean
  created_at?: Date
  updated_at?: Date
}

export const CAMPAIGN_COLUMNS = 'id, name, type, status, config, timezone, is_test, created_at, updated_at'

/** Parses a row at the database boundary: a Campaign in the seed's shape, or why it is not one. */
export function campaignFromRow(
  row: CampaignRow,
): { ok: true; campaign: Campaign } | { ok: false; error: string } {
  const parsed = Campaign.safeParse({
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status,
    config: row.config,
    timezone: row.timezone,
  })
  return parsed.success
    ? { ok: true, campaign: parsed.data }
    : { ok: false, error: describeZodError(parsed.error) }
}

function storedFromRow(row: CampaignRow): StoredCampaign {
  const parsed = campaignFromRow(row)
  if (!parsed.ok) throw new StoredCampaignInvalidError(row.id, parsed.error)
  return {
    campaign: parsed.campaign,
    isTest: row.is_test ?? false,
    createdAt: row.created_at ?? new Date(0),
    updatedAt: row.updated_at ?? new Date(0),
  }
}

/**
 * Validates (schema + IVR flow rules) and writes a campaign. Status is written as given: moving
 * an existing campaign between statuses with an audit trail is the lifecycle module's job.
 * Throws CampaignValidationError with every issue, or CampaignExistsError in 'insert' mode.
 */
export async function saveCampaign(
  db: Db,
  input: unknown,
  options: SaveOptions = {},
): Promise<StoredCampaign & { created: boolean }> {
  const result = validateCampaign(input)
  if (!result.ok || !result.value) throw new CampaignValidationError(result.errors)
  const c = result.value
  const params = [
    c.id,
    c.name,
    c.type,
    c.status,
    JSON.stringify(c.config),
    c.timezone,
    options.isTest ?? false,
  ]
  const insert = `INSERT INTO campaigns (id, name, type, status, config, timezone, is_test)
                  VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)`
  const sql =
    options.mode === 'insert'
      ? `${insert} ON CONFLICT (id) DO NOTHING RETURNING ${CAMPAIGN_COLUMNS}, true AS created`
      : `${insert} ON CONFLICT (id) DO UPDATE SET
           name = EXCLUDED.name, type = EXCLUDED.type, status = EXCLUDED.status, config = EXCLUDED.config,
           timezone = EXCLUDED.timezone, is_test = EXCLUDED.is_test, updated_at = now()
         RETURNING ${CAMPAIGN_COLUMNS}, (xmax = 0) AS created`
  const { rows } = await db.query<CampaignRow & { created: boolean }>(sql, params)
  const row = rows[0]
  if (!row) throw new CampaignExistsError(c.id)
  return { ...storedFromRow(row), created: row.created }
}

export async function getCampaign(db: Db, id: string): Promise<StoredCampaign | undefined> {
  const { rows } = await db.query<CampaignRow>(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1`, [
    id,
  ])
  return rows[0] ? storedFromRow(rows[0]) : undefined
}

export interface ListOptions {
  status?: CampaignStatus | CampaignStatus[]
}

/** Newest first. A row that no longer parses throws, naming the campaign and the field. */
export async function listCampaigns(db: Db, options: ListOptions = {}): Promise<StoredCampaign[]> {
  const statuses =
    options.status === undefined ? null : Array.isArray(options.status) ? options.status : [options.status]
  const { rows } = await db.query<CampaignRow>(
    `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns
     WHERE $1::text[] IS NULL OR status = ANY($1::text[])
     ORDER BY created_at DESC, id`,
    [statuses],
  )
  return rows.map(storedFromRow)
}

export type BatchCampaign = { ok: true; campaign: Campaign } | { ok: false; error: string }

/**
 * The campaigns a batch of tasks names, in ONE query; ids with no row are absent from the map,
 * rows that no longer parse are present with `ok: false` (the caller decides what to do).
 */
export async function getCampaignsForBatch(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, BatchCampaign>> {
  const unique = [...new Set(ids)]
  if (unique.length === 0) return new Map()
  const { rows } = await db.query<CampaignRow>(
    `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ANY($1::text[])`,
    [unique],
  )
  return new Map(rows.map((row) => [row.id, campaignFromRow(row)]))
}
