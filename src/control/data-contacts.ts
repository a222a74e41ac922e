import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import { withTransaction } from '../db/pool.js'
import type { ImportRun, InsertResult } from './contacts-insert.js'
import { asOperatorErrors, campaignModules, type DataContext } from './data-modules.js'
import type { ContactResultsPage, ContactRow, PushEntry, PushRegistration } from './port.js'

/** The contacts area of the data layer (DataPlane): imports, pushed contacts, per-contact results. */

/**
 * Inserts rows another process parsed, checked again first (assertContactRows): the authority sits
 * here. Refused for an unknown campaign and for a completed or cancelled one (nothing would dial them).
 */
export async function importContacts(
  { pool }: DataContext,
  campaignId: string,
  rows: ContactRow[],
  run?: ImportRun,
): Promise<InsertResult> {
  const { assertContactRows } = await import('../contracts/contact-row.js')
  assertContactRows(rows, campaignId)
  const { lockOpenForContacts, insertContacts, CampaignNotFoundError } = await campaignModules()
  return asOperatorErrors(() =>
    withTransaction(pool, async (client) => {
      const status = await lockOpenForContacts(client, campaignId, 'import contacts into')
      if (status === undefined) throw new CampaignNotFoundError(campaignId)
      return insertContacts(client, campaignId, rows, run)
    }),
  )
}

export async function campaignReport({ pool, now }: DataContext, id: string): Promise<CampaignReport> {
  const { campaignReport } = await campaignModules()
  return asOperatorErrors(() => campaignReport(pool, id, now()))
}

export async function* contactResults({ pool }: DataContext, id: string): AsyncIterable<ContactResult> {
  const { contactResults } = await campaignModules()
  yield* contactResults(pool, id)
}

export async function contactResultsPage(
  { pool }: DataContext,
  id: string,
  after: string | null,
  limit: number,
): Promise<ContactResultsPage> {
  const { contactResults } = await campaignModules()
  const rows: ContactResult[] = []
  for await (const row of contactResults(pool, id, limit, after ?? '')) {
    rows.push(row)
    if (rows.length === limit) break
  }
  return { rows, next: rows.length === limit ? rows.at(-1)!.contactId : null }
}

/** Contact rows for tasks about to be pushed (see registerPushedContacts): what became of each entry. */
export async function registerPushedContacts(
  { pool }: DataContext,
  entries: readonly PushEntry[],
): Promise<PushRegistration> {
  const { registerPushedContacts } = await campaignModules()
  return registerPushedContacts(pool, entries)
}
