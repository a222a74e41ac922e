import type pg from 'pg'
import { CampaignConfig, CampaignStatus, describeZodError } from '../contracts/index.js'
import { withTransaction } from '../db/pool.js'
import { importCommand } from './next-step.js'

/**
 * The campaign lifecycle: the ONE table of allowed moves. Every status change of a campaign goes
 * through `transitionCampaign`, which checks this table and appends a campaign_events row.
 *
 *   draft → active ⇄ paused → completed / cancelled
 *   draft → cancelled (a draft that will never run), active → completed / cancelled
 */
export const CAMPAIGN_MOVES: Readonly<Record<CampaignStatus, readonly CampaignStatus[]>> = {
  draft: ['active', 'cancelled'],
  active: ['paused', 'completed', 'cancelled'],
  paused: ['active', 'completed', 'cancelled'],
  completed: [],
  cancelled: [],
}

export function allowedMoves(from: CampaignStatus): readonly CampaignStatus[] {
  return CAMPAIGN_MOVES[from]
}

export function canMove(from: CampaignStatus, to: CampaignStatus): boolean {
  return CAMPAIGN_MOVES[from].includes(to)
}

export type CampaignTransitionErrorCode =
  | 'ALREADY_IN_STATE'
  | 'CAMPAIGN_CLOSED'
  | 'CAMPAIGN_NOT_ACTIVE'
  | 'CAMPAIGN_NOT_FOUND'
  | 'INVALID_CONFIG'
  | 'MOVE_REFUSED'
  | 'NO_CONTACTS'

/**
 * A refused lifecycle move. `suggestion` says what the operator can do instead, so the CLI can
 * print it as OperatorError's second line without knowing the rules.
 */
export class CampaignTransitionError extends Error {
  constructor(
    readonly code: CampaignTransitionErrorCode,
    message: string,
    readonly suggestion: string,
    readonly campaignId: string,
    readonly from?: CampaignStatus,
    readonly to?: CampaignStatus,
  ) {
    super(message)
    this.name = 'CampaignTransitionError'
  }
}

export interface TransitionOptions {
  /** who asked: an operator name (`dialctl` user), 'dispatcher', 'pacer' … */
  actor: string
  reason?: string
  /**
   * Only move from these states, even when the table allows more: `start` must not silently
   * resume a paused campaign, and the dispatcher only completes an active one.
   */
  from?: readonly CampaignStatus[]
  now?: Date
}

export interface TransitionResult {
  campaignId: string
  from: CampaignStatus
  to: CampaignStatus
  at: Date
  actor: string
  reason: string | null
}

/** The dialctl command for a move. */
function commandFor(from: CampaignStatus, to: CampaignStatus, id: string): string | undefined {
  if (to === 'active')
    return from === 'draft' ? `dialctl campaign start ${id}` : `dialctl campaign resume ${id}`
  if (to === 'paused') return `dialctl campaign pause ${id}`
  if (to === 'completed') return `dialctl campaign complete ${id}`
  if (to === 'cancelled') return `dialctl campaign cancel ${id}`
  return undefined
}

/**
 * Statuses that take no new contacts and no pushed tasks: both are final (CAMPAIGN_MOVES), so
 * anything added would never be dialed. Every other status takes them: a draft or paused campaign
 * dials them once (re)started, an active one at once — also when its earlier contacts are all
 * finished, because running out of contacts does not end a campaign (only an operator, or
 * `autoComplete: true` in its file, does).
 */
export const CLOSED_STATUSES: readonly CampaignStatus[] = ['completed', 'cancelled']

/**
 * The refusal for adding contacts or pushing a task to a campaign in `status`, or undefined when
 * it is open. `action` names what was refused ("import contacts into", "push a task to").
 */
export function closedCampaignError(
  campaignId: string,
  status: CampaignStatus,
  action: string,
): CampaignTransitionError | undefined {
  if (!CLOSED_STATUSES.includes(status)) return undefined
  return new CampaignTransitionError(
    'CAMPAIGN_CLOSED',
    `Cannot ${action} campaign "${campaignId}": it is ${status}, which is final, so nothing added would ever be dialed.`,
    `Create a new campaign (dialctl campaign create --file campaign.json; examples in examples/), then start it; \`dialctl campaign show ${campaignId}\` shows how this one ended.`,
    campaignId,
    status,
  )
}

/**
 * Locks the campaign row against a concurrent complete/cancel (FOR SHARE: imports do not block
 * each other) and throws `closedCampaignError` when it no longer takes contacts. Run it inside
 * the transaction that inserts them, so the check and the insert see the same status.
 * Returns the status, or undefined when the campaign does not exist.
 */
export async function lockOpenForContacts(
  client: pg.PoolClient,
  campaignId: string,
  action: string,
): Promise<CampaignStatus | undefined> {
  const { rows } = await client.query<{ status: CampaignStatus }>(
    'SELECT status FROM campaigns WHERE id = $1 FOR SHARE',
    [campaignId],
  )
  const status = rows[0]?.status
  if (status === undefined) return undefined
  const refusal = closedCampaignError(campaignId, status, action)
  if (refusal) throw refusal
  return status
}

function suggestMoves(from: CampaignStatus, id: string): string {
  const moves = allowedMoves(from).map((to) => {
    const cmd = commandFor(from, to, id)
    return cmd ? `${to} (${cmd})` : to
  })
  return `From ${from} the campaign can move to: ${moves.join(', ')}.`
}

function describeAllowed(from: CampaignStatus): string {
  const moves = allowedMoves(from)
  return moves.length ? `allowed from ${from}: ${moves.join(', ')}` : `${from} is final: no move is allowed`
}

/**
 * Checks and applies one move inside the caller's transaction (`client` has run BEGIN). Locks the
 * campaign row, so two operators (or an operator and the dispatcher) cannot both move it.
 */
export async function transitionCampaignIn(
  client: pg.PoolClient,
  campaignId: string,
  to: CampaignStatus,
  options: TransitionOptions,
): Promise<TransitionResult> {
  const target = CampaignStatus.safeParse(to)
  if (!target.success) {
    throw new CampaignTransitionError(
      'MOVE_REFUSED',
      `Unknown campaign status "${String(to)}".`,
      `Use one of: ${CampaignStatus.options.join(', ')}.`,
      campaignId,
    )
  }
  const { rows } = await client.query<{ status: CampaignStatus }>(
    'SELECT status FROM campaigns WHERE id = $1 FOR UPDATE',
    [campaignId],
  )
  const row = rows[0]
  if (!row) {
    throw new CampaignTransitionError(
      'CAMPAIGN_NOT_FOUND',
      `Campaign "${campaignId}" does not exist.`,
      'Check the id with `dialctl campaign list`.',
      campaignId,
      undefined,
      to,
    )
  }
  const from = row.status
  if (from === to) {
    throw new CampaignTransitionError(
      'ALREADY_IN_STATE',
      `Campaign "${campaignId}" is already ${to}.`,
      `Nothing to do (${describeAllowed(from)}).`,
      campaignId,
      from,
      to,
    )
  }
  if (!canMove(from, to) || (options.from && !options.from.includes(from))) {
    const allowed = allowedMoves(from)
    throw new CampaignTransitionError(
      'MOVE_REFUSED',
      `Campaign "${campaignId}" cannot move from ${from} to ${to}` +
        (canMove(from, to) ? ` with this command (it accepts only ${options.from!.join(', ')}).` : '.') +
        ` Moves ${describeAllowed(from)}.`,
      allowed.length
        ? suggestMoves(from, campaignId)
        : `Create a new campaign (a ${from} campaign cannot be restarted).`,
      campaignId,
      from,
      to,
    )
  }
  const at = options.now ?? new Date()
  await client.query('UPDATE campaigns SET status = $2, updated_at = $3 WHERE id = $1', [campaignId, to, at])
  await client.query(
    `INSERT INTO campaign_events (campaign_id, from_status, to_status, reason, actor, at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [campaignId, from, to, options.reason ?? null, options.actor, at],
  )
  return { campaignId, from, to, at, actor: options.actor, reason: options.reason ?? null }
}

/** Checks the move against CAMPAIGN_MOVES, updates the status and audits it, in one transaction. */
export async function transitionCampaign(
  pool: pg.Pool,
  campaignId: string,
  to: CampaignStatus,
  options: TransitionOptions,
): Promise<TransitionResult> {
  return withTransaction(pool, (client) => transitionCampaignIn(client, campaignId, to, options))
}

/** What `campaign start` asks of a draft besides its status (see `noContactsError`). */
export interface StartNeeds {
  hasContacts: boolean
  isTest: boolean
  /** the config's `autoComplete: true` */
  autoComplete: boolean
}

/**
 * The NO_CONTACTS refusal of `startCampaign`, or undefined when the draft may start: a campaign
 * without contacts would have nothing to dial, or, with `autoComplete: true`, complete at once —
 * never what the operator meant — except a test campaign without autoComplete: its contacts come
 * with the tasks `load-test` and `push` send (they register them), so it is started empty and
 * stays open. `dialctl push`'s advice for a draft asks the same question (`notAcceptingTasksError`).
 */
export function noContactsError(campaignId: string, needs: StartNeeds): CampaignTransitionError | undefined {
  if (needs.hasContacts || (needs.isTest && !needs.autoComplete)) return undefined
  return new CampaignTransitionError(
    'NO_CONTACTS',
    `Campaign "${campaignId}" has no contacts; ${needs.autoComplete ? 'starting it would complete it at once (autoComplete: true)' : 'it would have nothing to dial'}.`,
    `Import contacts first: ${importCommand(campaignId)} (FILE: a CSV with a phone_number column, E.164)`,
    campaignId,
    'draft',
    'active',
  )
}

/**
 * The refusal of a dial task pushed to a campaign that is not active (enrich would drop it), or
 * undefined when it is active. The advice is the command that would make it accept tasks, and
 * only one that would succeed: a draft that `campaign start` refuses for want of contacts (see
 * `noContactsError`) is told to import them first, then start; a paused one to resume; a completed
 * or cancelled one is final. Used by `dialctl push` before sending and by the push registration
 * (src/control/pushed-contacts.ts) for every caller of the control API.
 */
export function notAcceptingTasksError(
  campaignId: string,
  status: CampaignStatus,
  needs: StartNeeds,
): CampaignTransitionError | undefined {
  if (status === 'active') return undefined
  const start = `dialctl campaign start ${campaignId}`
  const next =
    status === 'draft'
      ? noContactsError(campaignId, needs)
        ? `It has no contacts, and \`campaign start\` refuses a campaign without them: import them first (${importCommand(campaignId)}; FILE: a CSV with a phone_number column, E.164), then start it (${start}).`
        : `Start it first: ${start}`
      : status === 'paused'
        ? `Resume it first: dialctl campaign resume ${campaignId}`
        : `${status} is final: push to an active campaign (dialctl campaign list), or create a new one (dialctl campaign create --file …).`
  return new CampaignTransitionError(
    'CAMPAIGN_NOT_ACTIVE',
    `Campaign ${campaignId} is ${status} and accepts no dial tasks; nothing was sent.`,
    next,
    campaignId,
    status,
    'active',
  )
}

/**
 * draft → active. Refuses a campaign without contacts (`noContactsError`) and a config that no
 * longer parses (saved by an older version, or edited by hand in the database).
 */
export async function startCampaign(
  pool: pg.Pool,
  campaignId: string,
  options: Omit<TransitionOptions, 'from'>,
): Promise<TransitionResult> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ config: unknown; is_test: boolean; has_contacts: boolean }>(
      `SELECT c.config, c.is_test, EXISTS (SELECT 1 FROM contacts WHERE campaign_id = c.id) AS has_contacts
         FROM campaigns c WHERE c.id = $1`,
      [campaignId],
    )
    const row = rows[0]
    if (row) {
      const parsed = CampaignConfig.safeParse(row.config)
      if (!parsed.success) {
        throw new CampaignTransitionError(
          'INVALID_CONFIG',
          `Campaign "${campaignId}" has an invalid config: ${describeZodError(parsed.error)}.`,
          // There is no update: a stored campaign is replaced by a fixed copy under a new id.
          `A stored campaign cannot be edited: fix the file, give it a new "id", create it (dialctl campaign create --file …), and cancel this one (dialctl campaign cancel ${campaignId} --reason "invalid config").`,
          campaignId,
          undefined,
          'active',
        )
      }
      const refusal = noContactsError(campaignId, {
        hasContacts: row.has_contacts,
        isTest: row.is_test,
        autoComplete: parsed.data.autoComplete === true,
      })
      if (refusal) throw refusal
    }
    return transitionCampaignIn(client, campaignId, 'active', { ...options, from: ['draft'] })
  })
}

/** active → paused: the dispatcher stops queueing; enrich releases what is already queued. */
export function pauseCampaign(pool: pg.Pool, campaignId: string, options: Omit<TransitionOptions, 'from'>) {
  return transitionCampaign(pool, campaignId, 'paused', { ...options, from: ['active'] })
}

/** paused → active. */
export function resumeCampaign(pool: pg.Pool, campaignId: string, options: Omit<TransitionOptions, 'from'>) {
  return transitionCampaign(pool, campaignId, 'active', { ...options, from: ['paused'] })
}

export function cancelCampaign(pool: pg.Pool, campaignId: string, options: Omit<TransitionOptions, 'from'>) {
  return transitionCampaign(pool, campaignId, 'cancelled', options)
}

export function completeCampaign(
  pool: pg.Pool,
  campaignId: string,
  options: Omit<TransitionOptions, 'from'>,
) {
  return transitionCampaign(pool, campaignId, 'completed', options)
}

export interface CampaignEvent {
  id: number
  campaignId: string
  from: CampaignStatus | null
  to: CampaignStatus
  reason: string | null
  actor: string
  at: Date
}

/** The audit trail, newest first. */
export async function listCampaignEvents(
  db: pg.Pool | pg.PoolClient,
  campaignId: string,
  limit = 50,
): Promise<CampaignEvent[]> {
  const { rows } = await db.query<{
    id: string
    campaign_id: string
    from_status: CampaignStatus | null
    to_status: CampaignStatus
    reason: string | null
    actor: string
    at: Date
  }>(
    `SELECT id, campaign_id, from_status, to_status, reason, actor, at
       FROM campaign_events WHERE campaign_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
    [campaignId, limit],
  )
  return rows.map((r) => ({
    id: Number(r.id),
    campaignId: r.campaign_id,
    from: r.from_status,
    to: r.to_status,
    reason: r.reason,
    actor: r.actor,
    at: r.at,
  }))
}
