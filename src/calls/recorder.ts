import pg from 'pg'
import type { DialCommand } from '../contracts/messages.js'
import type { Db } from '../db/pool.js'
import type { ActionRecord } from '../ivr/runner.js'
import type { CallEndReason, CallOutcome } from '../telephony/driver.js'
import { isReservedTestNumber } from '../tasks/test-numbers.js'
import { adoptOrphanDial, claimDial, type ClaimResult, type GateRefusal } from './gate.js'

/**
 * Call outcomes in PostgreSQL: one call_attempts row per dial of a contact attempt, and the
 * contact's moves that belong to the worker (docs/contact-states.md):
 *   queued → dialing (claimCall: the dial gate, gate.ts), dialing → done / pending (retry later) / failed (finishCall,
 *   failOpenCalls).
 */

/** Defaults when the campaign's config does not say (the seed's values). */
export const DEFAULT_MAX_ATTEMPTS = 3
export const DEFAULT_RETRY_DELAY_MINUTES = 60

export interface BeginCallResult {
  callId: string
  attempt: number
  /** the (campaign, contact, attempt) already has a call: this dial is a redelivery */
  duplicate: boolean
  /** the number is on the blacklist: nothing was inserted, the contact moved to failed */
  blacklisted?: boolean
  /** the dial gate refused for another reason (see gate.ts); nothing was inserted */
  refused?: { reason: GateRefusal; detail: string }
}

/** The attempt number a command stands for; a seed-shaped command without it counts as attempt 0. */
export function attemptOf(cmd: Pick<DialCommand, 'attempt'>): number {
  return cmd.attempt ?? 0
}

/**
 * The dial gate (gate.ts: claimDial) with the campaign defaults of this module: claims the dial
 * (call_attempts row 'dialing', contact → dialing) when every rule holds at `options.now`, else
 * refuses with a reason and moves the contact as docs/contact-states.md says.
 */
export function claimCall(
  db: Db,
  cmd: DialCommand,
  workerId: string,
  options: { now?: () => Date } = {},
): Promise<ClaimResult> {
  return claimDial(db, cmd, attemptOf(cmd), workerId, {
    defaultMaxAttempts: DEFAULT_MAX_ATTEMPTS,
    ...(options.now ? { now: options.now } : {}),
  })
}

/** claimCall in the older flat shape (tests and the pause scenario read it this way). */
export async function beginCall(
  db: Db,
  cmd: DialCommand,
  workerId: string,
  options: { now?: () => Date } = {},
): Promise<BeginCallResult> {
  const result = await claimCall(db, cmd, workerId, options)
  switch (result.kind) {
    case 'claimed':
      return { callId: result.callId, attempt: result.attempt, duplicate: false }
    case 'duplicate':
      return { callId: result.callId, attempt: result.attempt, duplicate: true }
    case 'refused':
      if (result.reason === 'blacklisted')
        return { callId: cmd.callId, attempt: result.attempt, duplicate: false, blacklisted: true }
      return {
        callId: cmd.callId,
        attempt: result.attempt,
        duplicate: false,
        refused: { reason: result.reason, detail: result.detail },
      }
  }
}

/**
 * Takes over a call row this worker claimed but never ran (the claim's reply was lost, the worker
 * answered 503, the redelivered task looks like a duplicate) — through the dial gate again
 * (gate.ts: adoptOrphanDial), since the redelivery may come a visibility timeout later. Only the
 * worker that saw its own claim fail may adopt the row (it knows no call runs for it).
 */
export function adoptOrphanCall(
  db: Db,
  cmd: DialCommand,
  workerId: string,
  options: { now?: () => Date } = {},
): Promise<ClaimResult> {
  return adoptOrphanDial(db, cmd, attemptOf(cmd), workerId, {
    defaultMaxAttempts: DEFAULT_MAX_ATTEMPTS,
    ...(options.now ? { now: options.now } : {}),
  })
}

export interface FinishCall {
  callId: string
  campaignId: string
  contactId: string
  attempt: number
  status: CallOutcome
  hangupCause?: number
  digit?: string
  actions?: ActionRecord[]
  error?: string
  /** why a failed call failed (call_attempts.reason): media, telephony-restart, worker-restart */
  reason?: CallEndReason
  /** what ended an answered call (call_attempts.ended_by): the IVR end reason */
  endedBy?: string
  answeredAt?: Date
  durationMs?: number
}

export interface FinishCallResult {
  /** false when the call was already finished (or never begun): nothing changed */
  recorded: boolean
  /** the contact's new status, when a contact row moved */
  contactStatus?: 'done' | 'pending' | 'failed'
}

/**
 * The contact's move out of 'dialing' after a call (docs/contact-states.md): the SQL function
 * contact_after_call (migration 0015_call_functions.sql), which reads maxAttemptsPerContact and
 * retryDelayMinutes from the campaign's config with this module's defaults. Its arguments:
 * campaign, contact, attempt, answered, outcome, then the two defaults.
 */
const CONTACT_AFTER_CALL = (
  campaign: string,
  contact: string,
  attempt: string,
  answered: string,
  outcome: string,
) =>
  `contact_after_call(${campaign}, ${contact}, ${attempt}, ${answered}, ${outcome}, ` +
  `${DEFAULT_MAX_ATTEMPTS}, ${DEFAULT_RETRY_DELAY_MINUTES})`

/**
 * Records how the call ended and moves the contact on (finish_call, migration
 * 0015_call_functions.sql). Idempotent: a second finish changes nothing.
 *
 * Group commit (finish_calls, migration 0022_finish_calls.sql): per database handle, one finish
 * statement is written at a time, and finishes that arrive meanwhile go together in the next one
 * (at most FINISH_BATCH_MAX). A lone finish is written at once, so a quiet worker adds no latency;
 * a busy one pays one round trip, pool checkout and commit (a WAL flush) per statement instead of
 * per call. Each caller gets its own call's answer. A statement refused for what one finish
 * can cause alone (bad data, a constraint, a deadlock: the whole statement rolled back) is
 * retried call by call, so one bad finish fails only its own caller; any other error (connection
 * lost, timeout, shutdown) rejects each finish of the statement, as it would have rejected each
 * one alone, and run-call.ts retries them. A finish waits behind the statement being written, so
 * one held up by a lock delays the handle's later finishes too (each statement is bounded by the
 * pool's query timeout).
 * @throws what the statement threw (pg errors; the pool's query timeout bounds the wait)
 */
export function finishCall(db: Db, f: FinishCall): Promise<FinishCallResult> {
  let queue = finishQueues.get(db)
  if (!queue) {
    queue = { waiting: [], writing: false }
    finishQueues.set(db, queue)
  }
  const q = queue
  return new Promise((resolve, reject) => {
    q.waiting.push({ f, resolve, reject })
    if (!q.writing) void writeFinishes(db, q)
  })
}

/**
 * Finishes per statement at most: 100 calls' rows are a few tens of kB of JSON and a statement of
 * a few ms, so a caller never waits long behind one.
 */
export const FINISH_BATCH_MAX = 100

interface WaitingFinish {
  f: FinishCall
  resolve: (result: FinishCallResult) => void
  reject: (error: unknown) => void
}
interface FinishQueue {
  waiting: WaitingFinish[]
  /** a statement of this handle's finishes is being written */
  writing: boolean
}
const finishQueues = new WeakMap<Db, FinishQueue>()

async function writeFinishes(db: Db, q: FinishQueue): Promise<void> {
  q.writing = true
  try {
    while (q.waiting.length > 0) await settleFinishes(db, q.waiting.splice(0, FINISH_BATCH_MAX))
  } finally {
    q.writing = false
  }
}

/** Writes the finishes as one statement and settles each caller's promise; never throws. */
async function settleFinishes(db: Db, batch: WaitingFinish[]): Promise<void> {
  let results: FinishCallResult[]
  try {
    results = await finishCalls(
      db,
      batch.map((w) => w.f),
    )
  } catch (error) {
    if (batch.length > 1 && isOneFinishFault(error)) {
      for (const w of batch) await settleFinishes(db, [w])
    } else {
      for (const w of batch) w.reject(error)
    }
    return
  }
  batch.forEach((w, i) => w.resolve(results[i]!))
}

/**
 * A refusal one finish of a statement can cause on its own, where the rest of the statement
 * deserves its own try: a data exception (SQLSTATE class 22), an integrity constraint violation
 * (23), a deadlock its lock set walked into (40P01). A timeout, a cancel, a server shutting down
 * (57…) or a lost connection would only repeat per call, as many times over.
 */
function isOneFinishFault(error: unknown): boolean {
  return error instanceof pg.DatabaseError && /^(2[23]|40P01)/.test(error.code ?? '')
}

/**
 * Unpaired UTF-16 surrogates as U+FFFD (String.prototype.toWellFormed), as the UTF-8 encoding of
 * a text parameter makes them: in JSON they are `\udXXX` escapes that jsonb refuses, which would
 * fail that finish on every retry.
 */
const wellFormed = (_key: string, value: unknown) =>
  typeof value === 'string' ? value.toWellFormed() : value

/** finish_calls: the finishes in order, one statement; their answers in the same order. */
async function finishCalls(db: Db, finishes: FinishCall[]): Promise<FinishCallResult[]> {
  const { rows } = await db.query<{ ord: string; recorded: boolean; contact_status: string | null }>(
    'SELECT ord, recorded, contact_status FROM finish_calls($1, $2, $3)',
    [
      JSON.stringify(
        finishes.map((f) => ({
          call_id: f.callId,
          status: f.status,
          hangup_cause: f.hangupCause ?? null,
          digit: f.digit ?? null,
          actions: f.actions ?? [],
          error: f.error ?? null,
          answered_at: f.answeredAt ?? null,
          duration_ms: f.durationMs === undefined ? null : Math.round(f.durationMs),
          reason: f.reason ?? null,
          ended_by: f.endedBy ?? null,
        })),
        wellFormed,
      ),
      DEFAULT_MAX_ATTEMPTS,
      DEFAULT_RETRY_DELAY_MINUTES,
    ],
  )
  const answers = Array.from<FinishCallResult | undefined>({ length: finishes.length })
  for (const row of rows)
    answers[Number(row.ord) - 1] = {
      recorded: row.recorded === true,
      ...(row.contact_status
        ? { contactStatus: row.contact_status as FinishCallResult['contactStatus'] }
        : {}),
    }
  if (rows.length !== finishes.length || answers.length !== finishes.length || answers.includes(undefined))
    throw new Error(
      `finish_calls answered rows ${rows.map((r) => r.ord).join(', ')} for ${finishes.length} finishes`,
    )
  return answers as FinishCallResult[]
}

/**
 * Crash / restart recovery: this worker's calls still 'dialing' cannot be running any more
 * (the process that ran them is gone), so they are marked failed with `reason`, and their
 * contacts move on as after a failed call (pending with the retry delay, or failed at max).
 * Returns the call ids it closed.
 */
export async function failOpenCalls(db: Db, workerId: string, reason: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH upd AS (
       UPDATE call_attempts SET status = 'failed', error = $2, ended_at = now(),
         duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
       WHERE worker_id = $1 AND status = 'dialing'
       RETURNING call_id, campaign_id, contact_id, attempt
     )
     SELECT call_id AS id, ${CONTACT_AFTER_CALL('campaign_id', 'contact_id', 'attempt', 'false', "'failed'")} AS contact
       FROM upd`,
    [workerId, reason],
  )
  return rows.map((r) => r.id)
}

/**
 * A channel a previous run of this worker left in its Stasis app, found and hung up by the ARI
 * driver's reconcile: its row closes with the outcome Asterisk's state implies. `answered` (the
 * channel was Up) records the call answered and the contact done — never re-dial a person who
 * picked up because our process crashed; otherwise the call failed (retryable). Only a row still
 * 'dialing' moves. Returns whether it did.
 */
export async function finishOrphanCall(db: Db, callId: string, answered: boolean): Promise<boolean> {
  const { rows } = await db.query(
    `WITH upd AS (
       UPDATE call_attempts SET
         status = CASE WHEN $2 THEN 'answered' ELSE 'failed' END,
         answered_at = CASE WHEN $2 THEN COALESCE(answered_at, started_at) ELSE answered_at END,
         error = $3, reason = CASE WHEN $2 THEN NULL ELSE 'worker-restart' END, ended_by = 'worker-restart',
         ended_at = now(), duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
       WHERE call_id = $1 AND status = 'dialing'
       RETURNING campaign_id, contact_id, attempt, status
     )
     SELECT ${CONTACT_AFTER_CALL('campaign_id', 'contact_id', 'attempt', '$2::boolean', 'status')} AS contact FROM upd`,
    [
      callId,
      answered,
      answered
        ? 'worker restarted mid-call; the callee had answered, the channel was hung up on restart'
        : 'worker restarted while the call was ringing; the channel was hung up on restart',
    ],
  )
  return rows.length > 0
}

export interface CallContext {
  callId: string
  campaignId: string
  contactId: string
  phoneNumber: string
}

/** trigger_donation: one donation intent per call (a replayed digit does not double it). */
export async function recordDonation(
  db: Db,
  call: CallContext,
  parameters: Record<string, unknown>,
): Promise<void> {
  await db.query(
    `INSERT INTO donations (call_id, campaign_id, contact_id, parameters)
     VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (call_id) DO NOTHING`,
    [call.callId, call.campaignId, call.contactId, JSON.stringify(parameters)],
  )
}

/**
 * add_to_blacklist: takes effect at once, so enrich and the dispatcher never dial the number again.
 * Not for a reserved test number (+1 NXX 555-01XX, src/tasks/test-numbers.ts): no person owns
 * one, so no person opted out — it was a simulated callee pressing the key, and a global entry
 * would silently drop that number from every later load test. Returns whether it was listed.
 */
export async function addToBlacklist(db: Db, call: CallContext, reason: string): Promise<boolean> {
  if (isReservedTestNumber(call.phoneNumber)) return false
  await db.query(
    `INSERT INTO blacklist (phone_number, reason, source, campaign_id)
     VALUES ($1, $2, 'ivr', $3) ON CONFLICT (phone_number) DO NOTHING`,
    [call.phoneNumber, reason, call.campaignId],
  )
  return true
}
