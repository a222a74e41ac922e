import { createHash } from 'node:crypto'
import { z } from 'zod'
import { usageError } from '../errors.js'
import { taskSizeProblem } from '../tasks/limits.js'
import { IanaTimeZone } from './campaign.js'
import { Metadata, SafeId } from './messages.js'
import { E164_FORMAT, PhoneNumber } from './phone.js'

/**
 * One rule for a contact row, wherever rows come from (issue #15): the CSV reader of
 * `dialctl contacts import` (src/control/contacts-import.ts) and the control API's `contacts.import`
 * (src/control/data.ts, behind the local and the AWS control function) both call
 * `contactRowProblem`, so a row one path refuses the other refuses too — and a row either accepts
 * is one the dispatcher can turn into a dial task (the same SafeId, E.164 and size rules as
 * DialTask and MAX_DIAL_TASK_BYTES).
 */

/** The field of a row a problem is about; the CSV reader names the header column for it. */
export type ContactField = 'id' | 'phoneNumber' | 'timezone' | 'metadata' | 'row'

export interface ContactProblem {
  field: ContactField
  message: string
}

export interface ContactRowFields {
  id: string
  phoneNumber: string
  metadata: Record<string, unknown>
  timezone?: string
}

const first = (error: z.ZodError) => error.issues[0]?.message ?? 'is invalid'

/**
 * The longest campaign id (SafeId: 200 characters), for the size rule where the reader does not
 * know the campaign (parseContactsCsv without one): it then refuses what any campaign would.
 */
export const LONGEST_CAMPAIGN_ID = 'x'.repeat(200)

/**
 * The first problem of a row (id, number, zone, metadata, then the size of the task the dispatcher
 * will make of it for `campaignId`), or undefined.
 */
export function contactRowProblem(row: ContactRowFields, campaignId: string): ContactProblem | undefined {
  const id = SafeId.safeParse(row.id)
  if (!id.success)
    return {
      field: 'id',
      message:
        row.id.length > 200
          ? `is ${row.id.length} characters; an id has at most 200 (shorten it, or leave the id column out to use c-<number>)`
          : first(id.error),
    }
  if (!PhoneNumber.safeParse(row.phoneNumber).success)
    return { field: 'phoneNumber', message: `is not a valid E.164 number: ${E164_FORMAT}` }
  if (row.timezone !== undefined && !IanaTimeZone.safeParse(row.timezone).success)
    return {
      field: 'timezone',
      message: `"${row.timezone}" is not an IANA time zone (e.g. Europe/London); leave it empty to use the number's zone`,
    }
  const metadata = Metadata.safeParse(row.metadata)
  if (!metadata.success) return { field: 'metadata', message: first(metadata.error) }
  // the task the dispatcher will build from this contact must fit what the worker accepts
  const tooBig = taskSizeProblem({
    campaignId,
    contactId: row.id,
    phoneNumber: row.phoneNumber,
    metadata: row.metadata,
    attempts: 0,
  })
  return tooBig ? { field: 'row', message: tooBig } : undefined
}

/**
 * A JS Map holds at most 2^24 entries (V8 throws "Map maximum size exceeded"); a map per 2^23
 * keys keeps a file of any length under it. Keys are only added once (DuplicateRows looks first).
 */
export class ShardedMap<K, V> {
  private last = new Map<K, V>()
  private readonly shards: Map<K, V>[] = [this.last]

  constructor(private readonly shardEntries = 2 ** 23) {}

  get(key: K): V | undefined {
    for (const shard of this.shards) {
      const value = shard.get(key)
      if (value !== undefined) return value
    }
    return undefined
  }

  /** Adds a key get() did not find. */
  add(key: K, value: V): void {
    if (this.last.size >= this.shardEntries) this.shards.push((this.last = new Map()))
    this.last.set(key, value)
  }

  get shardCount(): number {
    return this.shards.length
  }
}

/** Ids up to this length are kept as they are; a longer one by its digest (as long as this). */
const ID_KEY_CHARS = 17

/**
 * The key of an id: the id itself when short, else \u0001 and 16 bytes of its SHA-256 (SafeId
 * refuses control characters, so a digest key never equals an id). Two ids share a key only if
 * they are equal or SHA-256 collides on 128 bits (about 2^-128 per pair; 10^16 pairs for a
 * 10^8-row file).
 */
function idKey(id: string): string {
  if (id.length <= ID_KEY_CHARS) return id
  return `\u0001${createHash('sha256')
    .update(id)
    .digest()
    .toString('latin1', 0, ID_KEY_CHARS - 1)}`
}

/**
 * Duplicates inside one file or request. The policy: **the first line wins** — it is imported, and
 * each later line with the same id or the same number is refused as "duplicates line M", so the
 * operator sees both lines and `--strict` exits non-zero. (A contact already in the campaign is
 * another matter: the database skips it and counts it under `duplicates`.)
 *
 * Memory, per distinct row: the number as a number (E.164 has at most 15 digits, under 2^53), the
 * id as itself up to 17 characters, else as a 17-character digest (idKey), each with its line —
 * fixed-size keys, so a row costs the same whatever its id, and sharded maps (ShardedMap), so no
 * row count hits a JS Map's 2^24-entry limit. Measured for 1,000,000 distinct rows
 * (test/bench/duplicate-rows-memory.ts, Node 20): 131 MB with 14-character ids (`c-<number>`, what
 * import makes without an id column), 139 MB with 200-character ids — about 135 bytes a row, where
 * ids kept whole took 442 MB for 200-character ids; 1.3 GB for 10 million rows.
 */
export class DuplicateRows {
  private readonly ids: ShardedMap<string, number>
  private readonly numbers: ShardedMap<number, number>

  /** `shardEntries`: keys per map (tests use a small one to cross shards) */
  constructor(shardEntries?: number) {
    this.ids = new ShardedMap(shardEntries)
    this.numbers = new ShardedMap(shardEntries)
  }

  /** Records the row's line when it is new; the problem naming the earlier line when it is not. */
  check(row: { line: number; id: string; phoneNumber: string }): ContactProblem | undefined {
    const number = Number(row.phoneNumber.slice(1))
    const id = idKey(row.id)
    const sameId = this.ids.get(id)
    if (sameId !== undefined)
      return { field: 'id', message: `duplicates line ${sameId} (same id); the first line is kept` }
    const sameNumber = this.numbers.get(number)
    if (sameNumber !== undefined)
      return {
        field: 'phoneNumber',
        message: `duplicates line ${sameNumber} (same number); the first line is kept`,
      }
    this.ids.add(id, row.line)
    this.numbers.add(number, row.line)
    return undefined
  }
}

/**
 * Every problem of a batch of rows (the control API's contacts.import), each with its line:
 * row rules first, then duplicates among the valid rows.
 */
export function contactRowsProblems(
  rows: readonly (ContactRowFields & { line: number })[],
  campaignId: string,
): (ContactProblem & { line: number })[] {
  const out: (ContactProblem & { line: number })[] = []
  const seen = new DuplicateRows()
  for (const row of rows) {
    const problem = contactRowProblem(row, campaignId) ?? seen.check(row)
    if (problem) out.push({ line: row.line, ...problem })
  }
  return out
}

/**
 * For rows another process parsed (the control API's contacts.import, behind the local and the AWS
 * control function): a batch with any bad or duplicate row is refused whole — a usage error, code
 * CONTACT_ROWS_INVALID, naming up to 5 lines and fields — and nothing is written.
 */
export function assertContactRows(
  rows: readonly (ContactRowFields & { line: number })[],
  campaignId: string,
): void {
  const problems = contactRowsProblems(rows, campaignId)
  if (!problems.length) return
  const listed = problems
    .slice(0, 5)
    .map((p) => `line ${p.line} ${p.field}: ${p.message}`)
    .join('; ')
  throw usageError(
    `${problems.length} contact row(s) refused; nothing was imported (${listed}).`,
    'Import the file with `dialctl contacts import` (it reports every row), or fix those rows and send them again.',
    'CONTACT_ROWS_INVALID',
  )
}
