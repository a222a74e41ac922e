import { z } from 'zod'
import {
  failBlacklistedContacts,
  failContacts,
  releaseContacts,
  rescheduleContacts,
} from '../campaigns/contacts.js'
import type { ContactRef, RescheduleRef } from '../campaigns/contacts.js'
import {
  calleeZones,
  describeZones,
  isCalleeWindowOpen,
  nextCalleeOpening,
  type CalleeZones,
} from '../campaigns/window.js'
import { DialTask, describeZodError, type EnrichedDialTask } from '../contracts/index.js'
import type { Campaign } from '../contracts/index.js'
import type { Db } from '../db/pool.js'
import type { Logger } from '../observability/logger.js'
import { maskPhone, maskPhonesIn } from '../observability/mask.js'
import { MetricName } from '../observability/metrics.js'
import { recordTaskOutcomes } from '../outcomes/task-outcomes.js'
import type { TaskOutcome } from '../outcomes/task-outcomes.js'
import { contactKey, lookupBatch } from './lookup.js'
import { errorMessage } from '../errors.js'
import { dialCommandTooLarge } from './command-size.js'
import type { TraceContext } from '../tracing/context.js'
import type { Tracer } from '../tracing/tracer.js'
import { traceEnrich } from './trace.js'

/** The part of an SQS record (as EventBridge Pipes hands it to enrichment) that enrich reads. */
export const PipeSqsRecord = z.object({
  messageId: z.string().min(1),
  body: z.string(),
  /** SQS gives strings; only the receive count is read (passed on to the dialer) */
  attributes: z.object({ ApproximateReceiveCount: z.coerce.number().int().positive().optional() }).optional(),
})

/** Why a task was dropped; stored as task_outcomes.reason (a detail may follow after ": "). */
export const DropReason = {
  Malformed: 'malformed',
  CampaignNotFound: 'campaign_not_found',
  CampaignInvalid: 'campaign_invalid',
  /** followed by the status: campaign_paused, campaign_completed, campaign_cancelled, campaign_draft */
  CampaignNotActive: 'campaign_',
  Blacklisted: 'blacklisted',
  OutsideCallingWindow: 'outside_calling_window',
  /** the dial command would exceed the worker's body limit (a 413, retried into the DLQ); contact failed */
  TaskTooLarge: 'task_too_large',
} as const

export interface EnricherDeps {
  db: Db
  logger: Logger
  /** the clock; one reading per batch is used for the window checks and enrichedAt */
  now?: () => Date
  /** Powertools Metrics (or anything with addMetric); the shell publishes it */
  metrics?: { addMetric(name: string, unit: 'Count', value: number): unknown }
  /** each task's spans (issue #19, src/enrich/trace.ts); default none */
  tracer?: Tracer
  /** the trace of a message sent without a header: the Lambda's own (`_X_AMZN_TRACE_ID`) */
  traceFallback?: () => TraceContext | undefined
  /** told the batch's drops (in batch order) before they are written; tracing reads the reasons */
  onDropped?: (outcomes: TaskOutcome[]) => void
}

export type Enricher = (batch: unknown) => Promise<EnrichedDialTask[]>

/** The handler the Lambda shell and the local pipe both call. */
export function createEnricher(deps: EnricherDeps): Enricher {
  const { tracer } = deps
  // tracing on: the batch timed and its spans recorded around it (trace.ts); off: untouched
  return (batch) =>
    tracer?.enabled ? traceEnrich(batch, deps, tracer, enrichBatch) : enrichBatch(batch, deps)
}

interface ValidTask {
  index: number
  messageId: string
  task: DialTask
  receiveCount?: number
}

/**
 * Enriches one Pipes batch: returns the tasks to dial, each with its campaign (seed shape), the
 * time of enrichment and its source record's messageId; `[]` when nothing is left, so the pipe
 * skips the target. Every dropped task is logged, recorded in task_outcomes and, when it names a
 * queued contact, moved as docs/contact-states.md says.
 *
 * Per-message problems never throw. A database error does: the pipe then retries the whole batch,
 * which is safe because every contact move only touches contacts still queued for that attempt.
 *
 * Cost per batch: one read (campaigns + blacklist), at most one UPDATE per kind of move, one
 * INSERT of outcomes.
 */
export async function enrichBatch(batch: unknown, deps: EnricherDeps): Promise<EnrichedDialTask[]> {
  const { db, logger } = deps
  // Not a list at all means the pipe is misconfigured, not a bad message: fail loudly, lose nothing.
  if (!Array.isArray(batch))
    throw new Error(`enrich expects the pipe's batch as an array of SQS records, got ${typeof batch}`)
  const now = (deps.now ?? (() => new Date()))()
  // Outcomes are recorded in the batch's order, whichever check dropped them.
  const dropped: { index: number; outcome: TaskOutcome }[] = []
  const drop: DropFn = (index, outcome) =>
    dropped.push({ index, outcome: { ...outcome, stage: 'enrich', outcome: 'dropped' } })

  const valid = parseAll(batch, logger, drop)
  const kept: EnrichedDialTask[] = []
  const moves: Moves = { release: [], reschedule: [], blacklist: [], tooLarge: [] }
  if (valid.length > 0) {
    const lookup = await lookupBatch(
      db,
      valid.map((v) => v.task.campaignId),
      valid.map((v) => v.task.phoneNumber),
      valid.map((v) => v.task),
    )
    const step: EnrichStep = {
      logger,
      drop,
      now,
      enrichedAt: now.toISOString(),
      lookup,
      moves,
      windowChecks: new Map(),
    }
    for (const v of valid) {
      const enriched = enrichOne(v, step)
      if (enriched) kept.push(enriched)
    }
  }

  const outcomes = droppedInOrder(dropped, deps)
  await settle(deps, moves, outcomes)
  logger.info('enriched batch', {
    received: batch.length,
    kept: kept.length,
    dropped: outcomes.length,
    droppedByReason: countBy(outcomes.map((o) => (o.reason ?? '').split(':')[0]!)),
  })
  return kept
}

type DropFn = (index: number, outcome: Omit<TaskOutcome, 'stage' | 'outcome'>) => void

/** The contact moves a batch's drops ask for (docs/contact-states.md), applied together by `settle`. */
interface Moves {
  release: ContactRef[]
  reschedule: RescheduleRef[]
  blacklist: ContactRef[]
  tooLarge: ContactRef[]
}

/** What checking one task needs: one clock reading and one lookup per batch. */
interface EnrichStep {
  logger: Logger
  drop: DropFn
  now: Date
  /** `now` as ISO 8601, stamped on every kept task */
  enrichedAt: string
  lookup: Awaited<ReturnType<typeof lookupBatch>>
  moves: Moves
  /** checkWindow's answers in this batch, by campaign id, callee zones and their source (checkWindowOnce) */
  windowChecks: Map<string, WindowCheck>
}

/** Phase 1: each record parsed; a malformed one is logged and dropped (no contact move: its ids are unsure). */
function parseAll(batch: unknown[], logger: Logger, drop: DropFn): ValidTask[] {
  const valid: ValidTask[] = []
  batch.forEach((raw, index) => {
    const parsed = parseRecord(raw, index)
    if (parsed.ok) return valid.push(parsed.valid)
    const reason = `${DropReason.Malformed}: ${parsed.error}`
    logger.error('dropping malformed dial task', {
      messageId: parsed.messageId,
      recordIndex: index,
      campaignId: parsed.hint.campaignId,
      contactId: parsed.hint.contactId,
      reason,
    })
    drop(index, { messageId: parsed.messageId, ...parsed.hint, reason })
  })
  return valid
}

/**
 * Phase 2, one task: its campaign (found, valid, active), the blacklist, the callee's calling window,
 * then the dial command's size. Returns the enriched task, or undefined when dropped: the drop is
 * logged, recorded, and its contact move queued in `step.moves`.
 */
function enrichOne(v: ValidTask, step: EnrichStep): EnrichedDialTask | undefined {
  const { enrichedAt, lookup, moves } = step
  const { task, messageId } = v
  // No closure, log context or contact ref per task: most tasks are kept; a drop builds its own.
  const found = lookup.campaigns.get(task.campaignId)
  if (!found) {
    // Seed scenario 2: no campaign, so no contact row either (contacts reference campaigns).
    dropOne(v, step, DropReason.CampaignNotFound, 'warn')
    return undefined
  }
  if (!found.ok) {
    // A stored config that no longer parses cannot be dialed; keep the contact for after the fix.
    dropOne(v, step, `${DropReason.CampaignInvalid}: ${found.error}`, 'error')
    moves.release.push(refOf(task))
    return undefined
  }
  const campaign = found.campaign
  if (campaign.status !== 'active') {
    dropOne(v, step, `${DropReason.CampaignNotActive}${campaign.status}`)
    moves.release.push(refOf(task))
    return undefined
  }
  if (lookup.blacklisted.has(task.phoneNumber)) {
    dropOne(v, step, DropReason.Blacklisted)
    moves.blacklist.push(refOf(task))
    return undefined
  }
  const callee = calleeZones(
    lookup.contactZones.get(contactKey(task.campaignId, task.contactId)) ?? {},
    campaign.timezone,
  )
  const windowCheck = checkWindowOnce(step, campaign, callee)
  if (windowCheck.ok === false) {
    if (windowCheck.nextOpening) {
      dropOne(
        v,
        step,
        `${DropReason.OutsideCallingWindow}: closed in ${describeZones(callee)}; next opening ${windowCheck.nextOpening.toISOString()}`,
      )
      moves.reschedule.push({ ...refOf(task), nextAttemptAt: windowCheck.nextOpening })
    } else {
      dropOne(v, step, `${DropReason.OutsideCallingWindow}: ${windowCheck.error}`, 'error')
      moves.release.push(refOf(task))
    }
    return undefined
  }
  // Built from values parsed where they entered (the SQS body, the campaign row): typed, not
  // parsed again. On AWS the dialer Lambda parses it where it enters (the Pipes event); the local
  // pipe hands it to the dialer as it is (createInProcessDialer).
  // Object.assign, not `{ ...task, campaign, … }`: V8 (Node 20) builds a spread followed by more
  // keys on a slow path, microseconds a task (issue #17). Same keys, same order; a DialTask's keys
  // are the schema's (zod drops any other), so no setter or __proto__ is met.
  const shape = seedShape(campaign)
  const enriched: EnrichedDialTask = Object.assign(
    {},
    task,
    v.receiveCount === undefined
      ? { campaign: shape, enrichedAt, messageId }
      : { campaign: shape, enrichedAt, messageId, receiveCount: v.receiveCount },
  )
  // The dial command's size, checked here where its content is complete: the dialer adds only its
  // slot (`notBefore`, `cpsLimit`), counted at its widest (command-size.ts). A command over the
  // worker's body limit would be a 413, retried into the DLQ (issue #15 review F4).
  const tooLarge = dialCommandTooLarge(enriched)
  if (tooLarge === undefined) return enriched
  dropOne(v, step, `${DropReason.TaskTooLarge}: ${tooLarge}`, 'error')
  moves.tooLarge.push(refOf(task))
  return undefined
}

/** Logs and records the drop of one valid task (its ids known); the contact move is the caller's. */
function dropOne(
  v: ValidTask,
  step: EnrichStep,
  reason: string,
  level: 'info' | 'warn' | 'error' = 'info',
): void {
  const { task, messageId, index } = v
  const context = {
    messageId,
    campaignId: task.campaignId,
    contactId: task.contactId,
    attempt: task.attempts,
  }
  step.logger[level]('dropping dial task', { ...context, phoneNumber: maskPhone(task.phoneNumber), reason })
  step.drop(index, { ...context, reason })
}

function refOf(task: DialTask): ContactRef {
  return { campaignId: task.campaignId, contactId: task.contactId, attempts: task.attempts }
}

/**
 * checkWindow, once per campaign and callee zones in a batch: its answer depends on nothing else
 * (the batch has one clock reading), and a batch's tasks mostly share both.
 */
function checkWindowOnce(step: EnrichStep, campaign: Campaign, callee: CalleeZones): WindowCheck {
  // The source is part of the key: it is named in the error of a window that never opens. NUL
  // cannot occur in the ids or zones (they come from PostgreSQL text), so the key is unambiguous.
  const key = `${campaign.id}\u0000${callee.source}\u0000${callee.zones.join('\u0000')}`
  let check = step.windowChecks.get(key)
  if (!check) {
    check = checkWindow(step.now, campaign, callee)
    step.windowChecks.set(key, check)
  }
  return check
}

/** The contact moves of a batch and its outcome rows: independent statements; any failure fails the batch. */
async function settle(deps: EnricherDeps, moves: Moves, outcomes: TaskOutcome[]): Promise<void> {
  const { db } = deps
  await Promise.all([
    releaseContacts(db, moves.release),
    rescheduleContacts(db, moves.reschedule),
    failBlacklistedContacts(db, moves.blacklist),
    failContacts(db, moves.tooLarge, DropReason.TaskTooLarge),
    recordTaskOutcomes(db, outcomes),
  ])
  if (outcomes.length > 0) deps.metrics?.addMetric(MetricName.EnrichDropped, 'Count', outcomes.length)
}

/** The drops in batch order, whichever check dropped them; told to `deps.onDropped`. */
function droppedInOrder(
  dropped: { index: number; outcome: TaskOutcome }[],
  deps: EnricherDeps,
): TaskOutcome[] {
  const outcomes = dropped.sort((a, b) => a.index - b.index).map((d) => d.outcome)
  deps.onDropped?.(outcomes)
  return outcomes
}

type ParsedRecord =
  | { ok: true; valid: ValidTask }
  | { ok: false; messageId?: string; error: string; hint: { campaignId?: string; contactId?: string } }

/** Record → DialTask; on failure, what was wrong (field named) and whatever ids could be read. */
function parseRecord(raw: unknown, index: number): ParsedRecord {
  const record = readRecord(raw)
  if (!record.ok) return { ok: false, messageId: record.messageId, error: record.error, hint: {} }
  const { messageId, receiveCount } = record
  let body: unknown
  try {
    body = JSON.parse(record.body)
  } catch (error) {
    // JSON.parse messages may quote the body: mask any number it contains.
    return {
      ok: false,
      messageId,
      error: `body is not valid JSON (${maskPhonesIn(errorMessage(error))})`,
      hint: {},
    }
  }
  const task = DialTask.safeParse(body)
  if (!task.success) return { ok: false, messageId, error: describeZodError(task.error), hint: idsOf(body) }
  return {
    ok: true,
    valid: receiveCount
      ? { index, messageId, task: task.data, receiveCount }
      : { index, messageId, task: task.data },
  }
}

/** The fields enrich reads from a record that PipeSqsRecord accepts, or why it does not. */
export type ReadRecord =
  | { ok: true; messageId: string; body: string; receiveCount?: number }
  | { ok: false; messageId?: string; error: string }

/**
 * A Pipes SQS record as PipeSqsRecord reads it. The usual record — messageId and body strings,
 * attributes absent or carrying a receive count in plain decimal digits, as SQS writes it — is
 * read directly: PipeSqsRecord accepts exactly such a record, with these values, and zod's walk of
 * it was a third of the record's parse (issue #17). Any other record goes through PipeSqsRecord,
 * which decides and names what is wrong.
 */
export function readRecord(raw: unknown): ReadRecord {
  const usual = usualRecord(raw)
  if (usual) return usual
  const rawId = (raw as { messageId?: unknown } | null)?.messageId
  const messageId = typeof rawId === 'string' && rawId.length > 0 ? rawId : undefined
  const record = PipeSqsRecord.safeParse(raw)
  if (!record.success) return { ok: false, messageId, error: `record ${describeZodError(record.error)}` }
  const receiveCount = record.data.attributes?.ApproximateReceiveCount
  const read = { ok: true as const, messageId: record.data.messageId, body: record.data.body }
  return receiveCount === undefined ? read : { ...read, receiveCount }
}

/** A positive count that Number() reads exactly (at most 15 digits: below 2^53), no sign, no zero first. */
const PLAIN_COUNT = /^[1-9]\d{0,14}$/

function usualRecord(raw: unknown): (ReadRecord & { ok: true }) | undefined {
  if (!isPlainObject(raw)) return undefined
  const { messageId, body, attributes } = raw
  if (typeof messageId !== 'string' || messageId.length === 0 || typeof body !== 'string') return undefined
  if (attributes === undefined) return { ok: true, messageId, body }
  if (!isPlainObject(attributes)) return undefined
  const count = attributes.ApproximateReceiveCount
  if (count === undefined) return { ok: true, messageId, body }
  if (typeof count !== 'string' || !PLAIN_COUNT.test(count)) return undefined
  return { ok: true, messageId, body, receiveCount: Number(count) }
}

/** What zod's z.object accepts as an object (its util.isObject). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function idsOf(body: unknown): { campaignId?: string; contactId?: string } {
  const b = (body ?? {}) as { campaignId?: unknown; contactId?: unknown }
  return {
    ...(typeof b.campaignId === 'string' ? { campaignId: b.campaignId } : {}),
    ...(typeof b.contactId === 'string' ? { contactId: b.contactId } : {}),
  }
}

type WindowCheck = { ok: true } | { ok: false; nextOpening?: Date; error?: string }

/** The callee rule (window.ts), the same the dispatcher and the dial gate apply. */
function checkWindow(now: Date, campaign: Campaign, callee: CalleeZones): WindowCheck {
  const { callingWindows } = campaign.config
  try {
    if (isCalleeWindowOpen(now, callingWindows, callee)) return { ok: true }
    const next = nextCalleeOpening(now, callingWindows, callee)
    if (next) return { ok: false, nextOpening: next }
    return {
      ok: false,
      error: `no calling window opens in every zone of the callee (${describeZones(callee)})`,
    }
  } catch (error) {
    return { ok: false, error: errorMessage(error) }
  }
}

/** Exactly the seed's campaign keys, whatever else a row may carry. */
function seedShape(c: Campaign): Campaign {
  return { id: c.id, name: c.name, type: c.type, status: c.status, config: c.config, timezone: c.timezone }
}

function countBy(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1
  return counts
}
