import { calleeZones, describeZones } from './window.js'
import { stringify } from 'csv-stringify/sync'
import type { CampaignStatus } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import { maskPhone } from '../observability/mask.js'
import { CampaignNotFoundError } from './stats.js'

/** A count and what it is a share of, so no figure is printed without its denominator. */
export interface Share {
  count: number
  of: number
  /** count / of; null when `of` is 0 */
  rate: number | null
}

function share(count: number, of: number): Share {
  return { count, of, rate: of > 0 ? count / of : null }
}

/**
 * The results of one campaign (`dialctl campaign report`), from call_attempts, contacts, donations
 * and blacklist. Dial outcomes are the worker's hang-up classification (answered, no-answer,
 * busy, congestion, failed, and any later one); "answered" counts every answered call — a
 * machine (AMD) is not told apart here until call_attempts records it.
 */
export interface CampaignReport {
  campaignId: string
  name: string
  status: CampaignStatus
  timezone: string
  generatedAt: string
  contacts: { total: number; byState: Record<string, number> }
  dials: {
    total: number
    /** dials that ended: the denominator of the outcome shares and the answer rate */
    finished: number
    byOutcome: Record<string, number>
  }
  /** answered ÷ finished dials */
  answerRate: Share
  /** contacts with at least one answered call ÷ contacts dialed at least once */
  contactsReached: Share
  /** donations ÷ answered dials */
  donations: Share
  /** numbers this campaign's callees put on the blacklist (pressed the opt-out key) ÷ answered dials */
  optOuts: Share
  attemptsPerContact: {
    /** dials ÷ contacts dialed at least once; null before the first dial */
    mean: number | null
    /** dials made → number of contacts with that many (0 = never dialed) */
    histogram: Record<string, number>
  }
}

/** Builds the report; throws CampaignNotFoundError for an unknown id. */
export async function campaignReport(db: Db, campaignId: string, now = new Date()): Promise<CampaignReport> {
  const { rows: camp } = await db.query<{ name: string; status: CampaignStatus; timezone: string }>(
    'SELECT name, status, timezone FROM campaigns WHERE id = $1',
    [campaignId],
  )
  const c = camp[0]
  if (!c) throw new CampaignNotFoundError(campaignId)
  const [states, outcomes, perContact, figures] = await Promise.all([
    db.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM contacts WHERE campaign_id = $1 GROUP BY status ORDER BY status',
      [campaignId],
    ),
    db.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM call_attempts WHERE campaign_id = $1 GROUP BY status ORDER BY status',
      [campaignId],
    ),
    db.query<{ dials: string; n: string }>(
      `SELECT coalesce(a.dials, 0) AS dials, count(*) AS n
         FROM contacts ct
         LEFT JOIN (SELECT contact_id, count(*) AS dials FROM call_attempts
                     WHERE campaign_id = $1 GROUP BY contact_id) a ON a.contact_id = ct.id
        WHERE ct.campaign_id = $1
        GROUP BY 1 ORDER BY 1`,
      [campaignId],
    ),
    db.query<{ reached: string; dialed: string; donations: string; opt_outs: string }>(
      `SELECT
         (SELECT count(DISTINCT contact_id) FROM call_attempts WHERE campaign_id = $1 AND status = 'answered') AS reached,
         (SELECT count(DISTINCT contact_id) FROM call_attempts WHERE campaign_id = $1) AS dialed,
         (SELECT count(*) FROM donations WHERE campaign_id = $1) AS donations,
         (SELECT count(*) FROM blacklist WHERE campaign_id = $1) AS opt_outs`,
      [campaignId],
    ),
  ])
  const byState = Object.fromEntries(states.rows.map((r) => [r.status, Number(r.n)]))
  const byOutcome = Object.fromEntries(outcomes.rows.map((r) => [r.status, Number(r.n)]))
  const total = Object.values(byOutcome).reduce((a, b) => a + b, 0)
  const finished = total - (byOutcome.dialing ?? 0)
  const answered = byOutcome.answered ?? 0
  const f = figures.rows[0]!
  const dialed = Number(f.dialed)
  const histogram = Object.fromEntries(perContact.rows.map((r) => [r.dials, Number(r.n)]))
  return {
    campaignId,
    name: c.name,
    status: c.status,
    timezone: c.timezone,
    generatedAt: now.toISOString(),
    contacts: { total: Object.values(byState).reduce((a, b) => a + b, 0), byState },
    dials: { total, finished, byOutcome },
    answerRate: share(answered, finished),
    contactsReached: share(Number(f.reached), dialed),
    donations: share(Number(f.donations), answered),
    optOuts: share(Number(f.opt_outs), answered),
    attemptsPerContact: { mean: dialed > 0 ? total / dialed : null, histogram },
  }
}

/** One contact's results: the per-contact export. Phone numbers masked, as everywhere. */
export interface ContactResult {
  contactId: string
  phone: string
  state: string
  attempts: number
  lastOutcome: string | null
  answered: boolean
  donated: boolean
  optedOut: boolean
  lastCallAt: string | null
  /** the zone(s) the calling window is judged in, and where they come from (window.ts's rule) */
  calleeZones: string
}

export const CONTACT_RESULT_COLUMNS: readonly (keyof ContactResult)[] = [
  'contactId',
  'phone',
  'state',
  'attempts',
  'lastOutcome',
  'answered',
  'donated',
  'optedOut',
  'lastCallAt',
  'calleeZones',
]

/**
 * Every contact of the campaign with its results, in contact id order, read in pages of `pageSize`
 * (keyset pagination) so a campaign of millions is exported without holding it in memory; from
 * the first contact whose id sorts after `after` ('' = from the start).
 */
export async function* contactResults(
  db: Db,
  campaignId: string,
  pageSize = 5000,
  after = '',
): AsyncGenerator<ContactResult> {
  for (;;) {
    const { rows } = await db.query<{
      id: string
      phone_number: string
      status: string
      dials: string
      last_outcome: string | null
      answered: boolean
      donated: boolean
      opted_out: boolean
      last_call_at: Date | null
      timezone: string | null
      number_timezones: string[] | null
      campaign_timezone: string
    }>(
      `SELECT ct.id, ct.phone_number, ct.status,
              (SELECT count(*) FROM call_attempts a WHERE a.campaign_id = ct.campaign_id AND a.contact_id = ct.id) AS dials,
              ct.last_outcome,
              EXISTS (SELECT 1 FROM call_attempts a WHERE a.campaign_id = ct.campaign_id AND a.contact_id = ct.id
                        AND a.status = 'answered') AS answered,
              EXISTS (SELECT 1 FROM donations d WHERE d.campaign_id = ct.campaign_id AND d.contact_id = ct.id) AS donated,
              EXISTS (SELECT 1 FROM blacklist b WHERE b.phone_number = ct.phone_number
                        AND b.campaign_id = ct.campaign_id) AS opted_out,
              (SELECT max(a.started_at) FROM call_attempts a WHERE a.campaign_id = ct.campaign_id AND a.contact_id = ct.id) AS last_call_at,
              ct.timezone, ct.number_timezones, cp.timezone AS campaign_timezone
         FROM contacts ct JOIN campaigns cp ON cp.id = ct.campaign_id
        WHERE ct.campaign_id = $1 AND ct.id > $2
        ORDER BY ct.id LIMIT $3`,
      [campaignId, after, pageSize],
    )
    for (const r of rows)
      yield {
        contactId: r.id,
        phone: maskPhone(r.phone_number),
        state: r.status,
        attempts: Number(r.dials),
        lastOutcome: r.last_outcome,
        answered: r.answered,
        donated: r.donated,
        optedOut: r.opted_out,
        lastCallAt: r.last_call_at?.toISOString() ?? null,
        calleeZones: describeZones(
          calleeZones({ timezone: r.timezone, numberTimezones: r.number_timezones }, r.campaign_timezone),
        ),
      }
    if (rows.length < pageSize) return
    after = rows.at(-1)!.id
  }
}

/**
 * CSV rows (with a header when `header`), by csv-stringify with `escape_formulas`: a cell starting
 * with = + - @ tab or CR (contact ids and outcomes come from imported files) gets a leading ' so a
 * spreadsheet shows it as text instead of running it (OWASP "CSV injection").
 */
export function contactResultsCsv(rows: ContactResult[], header: boolean): string {
  return stringify(
    rows.map((r) => CONTACT_RESULT_COLUMNS.map((k) => r[k] ?? '')),
    {
      header,
      columns: CONTACT_RESULT_COLUMNS as string[],
      escape_formulas: true,
      cast: { boolean: (b) => (b ? 'true' : 'false') },
    },
  )
}

/**
 * The zones a campaign's calling window is judged in, with how many contacts each (most first,
 * at most `limit` groups): `campaign show`'s "Callee zones" line. The rule is window.ts's
 * (`calleeZones`), applied to each distinct (contact zone, number zones) pair. Reads the
 * campaign's contacts once (one grouped scan), so only `campaign show` asks for it.
 */
export async function calleeZoneSummary(
  db: Db,
  campaignId: string,
  campaignTimezone: string,
  limit = 5,
): Promise<{ zones: string; contacts: number }[]> {
  const { rows } = await db.query<{ timezone: string | null; number_timezones: string[] | null; n: string }>(
    `SELECT timezone, number_timezones, count(*) AS n FROM contacts
      WHERE campaign_id = $1 GROUP BY 1, 2`,
    [campaignId],
  )
  const byZones = new Map<string, number>()
  for (const r of rows) {
    const key = describeZones(
      calleeZones({ timezone: r.timezone, numberTimezones: r.number_timezones }, campaignTimezone),
    )
    byZones.set(key, (byZones.get(key) ?? 0) + Number(r.n))
  }
  return [...byZones]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([zones, contacts]) => ({ zones, contacts }))
}
