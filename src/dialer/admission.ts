import { DialTask } from '../contracts/index.js'
import { errorMessage } from '../errors.js'
import type { Admission } from '../pacing/limiter.js'
import type { DialerDeps } from './handle-batch.js'
import type { Ledger, TaskItem } from './ledger.js'
import { PIPE_BATCH_WINDOW_SECONDS } from '../pipe/batching.js'
import { delaySecondsFor, realSleep } from './ports.js'

/**
 * How a deferred task gets back to its slot through a pipe with a batching window of
 * `windowSeconds` (the pipe's `MaximumBatchingWindowInSeconds`; 5 s here, DESIGN.md):
 *
 * - `returnEarlyMs`: it is sent back this long before its promised slot: the window plus 1 s for
 *   SQS's whole-second DelaySeconds and the poll. A task made visible at its slot reaches the
 *   dialer up to a window late while the slot passes unused (the bench measured 0.48 of the budget
 *   at 5 CPS that way).
 * - `holdMs`: a batch keeps a task whose slot is this close instead of sending it through the
 *   queue: one more second than `returnEarlyMs`, so a task back early is held, and the refused
 *   part of a burst too (a batch of 10 at a low limit is mostly refused: the limiter grants at
 *   most its 1 s horizon of slots). Far below the dialer's timeout and the visibility timeout
 *   (stacks/settings.ts).
 */
export function deferralTiming(windowSeconds: number): { returnEarlyMs: number; holdMs: number } {
  const returnEarlyMs = Math.round(windowSeconds * 1000) + 1000
  return { returnEarlyMs, holdMs: returnEarlyMs + 1000 }
}

export const { returnEarlyMs: DEFAULT_RETURN_EARLY_MS, holdMs: DEFAULT_HOLD_MS } =
  deferralTiming(PIPE_BATCH_WINDOW_SECONDS)

/** Re-ask this long before a held task's promised slot: inside the limiter's 1 s horizon. */
const REASK_LEAD_MS = 500
/** A re-ask takes the held tasks whose slot is within this (ms), under the 1 s horizon. */
const DUE_WITHIN_MS = 900

/** A task going back to the queue: in `delayMs`, because of `why` (the limiter, a busy worker). */
export interface Deferral {
  item: TaskItem
  delayMs: number
  why: string
  callId?: string
  /** the slot the limiter promised, epoch ms: stamped on the task as `deferredUntil` */
  slotAt?: number
}

/** When and at what limit an admitted task may be dialed. */
export interface DialSlot {
  /** ms from the decision to the slot */
  delayMs: number
  /** the slot's absolute time, epoch ms (Redis clock; the local clock in degraded mode) */
  notBefore: number
  limit: number
}

/** Dials one admitted task at its slot; a busy worker's refusal comes back as a deferral. */
export type DialAtSlot = (item: TaskItem, slot: DialSlot) => Promise<Deferral | undefined>

/** One limiter decision over `pending`, with the live limit (re-read each round: a cut applies). */
async function admitRound(deps: DialerDeps, pending: TaskItem[], claim: boolean) {
  const { limit, source } = await deps.limitStore.getLimit()
  const admission: Admission = pending.length
    ? await deps.limiter.admit(pending.length, limit, { claim, promise: deps.requeue !== undefined })
    : { delaysMs: [], deferDelaysMs: [], mode: 'redis', limit }
  const decidedAtMs = (deps.nowMs ?? Date.now)()
  const k = admission.delaysMs.length
  const slots = pending.slice(0, k).map((item, i) => {
    const delayMs = admission.delaysMs[i] ?? 0
    const slotMicros = admission.slotsMicros?.[i]
    const notBefore = slotMicros !== undefined ? slotMicros / 1000 : decidedAtMs + delayMs
    return { item, slot: { delayMs, notBefore, limit: admission.limit } }
  })
  // Each refused task's promised slot, as an absolute local time.
  const refused = pending
    .slice(k)
    .map((item, j) => ({ item, at: decidedAtMs + (admission.deferDelaysMs[j] ?? 0) }))
  return { admission, source, slots, refused, decidedAtMs }
}

/** A task kept in the batch until its promised slot (epoch ms). */
interface Held {
  item: TaskItem
  at: number
}

/**
 * Phase 4: the limiter admits a prefix of the tasks, each with its slot, and `dial` is started for
 * each at once. A task the limiter refused, or one back from a deferral (`deferredUntil`), whose
 * promised slot comes within the hold (DialerDeps.holdMs, default DEFAULT_HOLD_MS) stays in this
 * batch: REASK_LEAD_MS before its slot, the held tasks then due are asked for again, so each
 * re-ask fits in the limiter's 1 s horizon. The rest are deferred: re-queued to come back
 * DialerDeps.returnEarlyMs before their promised slot (no receive spent), or retried when the
 * queue cannot take them. Every round settles at least one task and a task is re-held at most
 * `todo.length` times in all, so a batch ends whatever the clock does.
 *
 * Returns the first decision (the batch's admission, for metrics) and the deferrals of the dials
 * a busy worker refused. A refusal never throws; a limiter error propagates (the resilient
 * limiter does not throw).
 */
export async function admitAndDial(
  deps: DialerDeps,
  todo: TaskItem[],
  ledger: Ledger,
  dial: DialAtSlot,
): Promise<{ admission: Admission; busy: Deferral[] }> {
  const now = deps.nowMs ?? Date.now
  const startedAt = now()
  const holdUntil = startedAt + (deps.holdMs ?? DEFAULT_HOLD_MS)
  const dials: Array<Promise<Deferral | undefined>> = []
  // Back from a deferral before its slot: held until then, not asked for early. Judged against
  // one reading of the clock, so a task is either held or asks now, never both (dialed twice).
  const early = (t: TaskItem) => {
    const until = t.task.deferredUntil
    return until !== undefined && until > startedAt + DUE_WITHIN_MS && until <= holdUntil
  }
  let held: Held[] = todo.filter(early).map((item) => ({ item, at: item.task.deferredUntil ?? 0 }))
  let admission: Admission | undefined
  // Tasks back from a deferral hold a place in the limiter's line: they ask as claimants.
  const rest = todo.filter((t) => !early(t))
  const rounds: Array<{ tasks: TaskItem[]; claim: boolean }> = [
    { tasks: rest.filter((t) => t.task.deferredUntil !== undefined), claim: true },
    { tasks: rest.filter((t) => t.task.deferredUntil === undefined), claim: false },
  ]
  let reholds = todo.length
  for (;;) {
    for (const { tasks, claim } of rounds) {
      if (tasks.length === 0) continue
      const r = await admitRound(deps, tasks, claim)
      admission ??= r.admission
      for (const { item, slot } of r.slots) dials.push(dial(item, slot))
      const keep = r.refused.filter((t) => t.at <= holdUntil && reholds-- > 0)
      held = [...held, ...keep]
      await deferFar(
        deps,
        r,
        r.refused.filter((t) => !keep.includes(t)),
        held.length,
        ledger,
      )
    }
    if (held.length === 0) break
    held.sort((x, y) => x.at - y.at)
    await (deps.sleep ?? realSleep)(Math.max(0, held[0]!.at - REASK_LEAD_MS - now()))
    const dueBy = now() + DUE_WITHIN_MS
    const due = held.filter((t, i) => i === 0 || t.at <= dueBy)
    held = held.slice(due.length)
    rounds.splice(0, rounds.length, { tasks: due.map((t) => t.item), claim: true })
  }
  const busy = (await Promise.all(dials)).filter((d): d is Deferral => d !== undefined)
  return { admission: admission ?? (await admitRound(deps, [], false)).admission, busy }
}

/** The refused tasks beyond the hold go back to the queue with the delay to their promised slot. */
async function deferFar(
  deps: DialerDeps,
  r: Awaited<ReturnType<typeof admitRound>>,
  far: Held[],
  held: number,
  ledger: Ledger,
) {
  if (far.length === 0) return
  const why = `limit ${r.admission.limit} CPS (${r.admission.mode})`
  const at = (deps.nowMs ?? Date.now)()
  const deferred = await deferAll(
    deps,
    far.map(({ item, at: slotAt }) => ({
      item,
      delayMs: Math.max(0, slotAt - at - (deps.returnEarlyMs ?? DEFAULT_RETURN_EARLY_MS)),
      why,
      slotAt: Math.round(slotAt),
    })),
    ledger,
    'at its next slot',
  )
  deps.logger.info('Rate limit reached: tasks deferred to their next slot', {
    deferred,
    returnedForRetry: far.length - deferred,
    admitted: r.slots.length,
    heldForSlot: held,
    limit: r.admission.limit,
    limitSource: r.source,
    mode: r.admission.mode,
  })
}

/**
 * Re-queues the tasks with their delays and records each one's fate: `deferred` (re-sent, no
 * receive spent) or, when the queue could not take it, an ordinary retry (`rate_limited`), which
 * is what happened before deferral existed. Returns how many were re-sent. Never throws.
 */
export async function deferAll(deps: DialerDeps, deferrals: Deferral[], ledger: Ledger, when: string) {
  const sent = await requeue(deps, deferrals)
  for (const d of deferrals) {
    const seconds = sent.get(d.item.messageId)
    if (seconds === undefined) ledger.record(d.item, 'rate_limited', d.why, d.callId)
    else ledger.record(d.item, 'deferred', `${d.why}: back in ${seconds} s ${when}`, d.callId)
  }
  return sent.size
}

/**
 * Re-sends the deferred tasks to the dial-tasks queue with their delays. Returns messageId →
 * delay (s) of those re-sent; the others stay ordinary retries. Never throws: a queue that cannot
 * take them leaves them to the pipe's retry.
 */
async function requeue(deps: DialerDeps, deferrals: Deferral[]): Promise<Map<string, number>> {
  const done = new Map<string, number>()
  if (!deps.requeue || deferrals.length === 0) return done
  const entries = deferrals.map((d, j) => ({
    id: `t${j}`,
    // The task as the queue carried it (enrichment fields stripped): attempts unchanged, since
    // a deferral is not an attempt.
    body: JSON.stringify({
      ...DialTask.parse(d.item.task),
      deferredUntil: d.slotAt,
    }),
    delaySeconds: delaySecondsFor(d.delayMs),
  }))
  try {
    const { failed } = await deps.requeue.requeue(entries)
    const bad = new Set(failed)
    entries.forEach((e, j) => {
      if (!bad.has(e.id)) done.set(deferrals[j]!.item.messageId, e.delaySeconds)
    })
    if (failed.length)
      deps.logger.warn('Some deferred tasks could not be re-queued; they are returned for retry', {
        failed: failed.length,
      })
  } catch (error) {
    deps.logger.error('Deferred tasks could not be re-queued; they are returned for retry', {
      tasks: entries.length,
      error: errorMessage(error),
    })
  }
  return done
}
