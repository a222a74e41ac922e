import type { AuditEntry, OutcomeCount, PacingSnapshot, PipeMetrics, QueueDepth } from './port.js'

/**
 * Health verdicts `status` and `doctor` share, so both say the same thing about the same state.
 * The rules are written out in docs/health.md.
 *
 * Rate limiting is deferral, not failure (issue #12): a task the limiter cannot admit goes back to
 * the queue for its next slot without spending a receive. A backlog paced at the limit is therefore
 * healthy, however large the deferred share. It is a problem only when it signals one: tasks are
 * deferred while almost nothing is dialed (the pacing is stalled), or an operator's cut or hold has
 * kept the limit far below demand for a long time.
 */

/** The seed's alarm threshold: above this deferred share we ask why (below it, nothing to say). */
export const RATE_LIMITED_ALARM = 0.2
/** Admissions below this share of what the limit allows, while deferring, mean the pacing stalls. */
export const STALL_ADMIT_SHARE = 0.5
/** Seconds with demand needed before a stall is called (a burst of a few seconds proves nothing). */
export const STALL_MIN_SECONDS = 10
/** Demand at least this many times the limit (≥ 75 % deferred) is "far below demand". */
export const FAR_BELOW_DEMAND = 4
/** A cut or hold younger than this is an operator's fresh decision (warn); older and starving: fail. */
export const LONG_CUT_MINUTES = 15
/** The doctor's look-back of task outcomes (`recentOutcomes(15)`): "new" dead letters are this recent. */
export const DLQ_GROWTH_MINUTES = 15

/**
 * Worker deferrals (429 / 503 draining) in the pipe metrics' window before the worker is judged:
 * a handful is a busy moment (a burst at capacity, a rolling restart), not a worker refusing.
 */
export const WORKER_REFUSING_MIN = 10

export type VerdictStatus = 'ok' | 'warn' | 'fail'

export interface Verdict {
  status: VerdictStatus
  /** which rule decided (stable: tests and --json readers key on it) */
  rule: string
  detail: string
  cause?: string
  fix?: string
}

export interface RateLimitInput {
  pacing: PacingSnapshot
  /** the pacing audit, newest first; undefined when it could not be read */
  audit?: AuditEntry[]
  /** ids of the active campaigns */
  active: string[]
  now: Date
  /** the stage's kind: whether a pacer steers the limit once a hold ends (`pacerSteers`) */
  kind: 'local' | 'aws'
}

/** Sums of the last 60 s: attempts, admissions, and the seconds that had any demand. */
function demandOf(p: PacingSnapshot) {
  let attempts = 0
  let admitted = 0
  let seconds = 0
  for (const s of p.last60) {
    attempts += s.admitted + s.rateLimited
    admitted += s.admitted
    if (s.admitted + s.rateLimited > 0) seconds++
  }
  return { attempts, admitted, seconds }
}

/**
 * Whether an adaptive pacer steers the limit on a stage of this kind once no hold stops it: an AWS
 * stage runs the Pacer Lambda on a schedule (stacks/functions.ts, PACER_SCHEDULE); the local stack
 * starts none (local/stack.ts) — there `dialctl cps auto` is a pacer only while it runs in a terminal.
 */
export function pacerSteers(kind: 'local' | 'aws'): boolean {
  return kind === 'aws'
}

/** What the limit does on the local stack when nothing holds it (`cps auto --resume`, the verdicts). */
export function localPacerNote(limit: number): string {
  return `no pacer runs locally, so the limit stays at ${limit} cps (one pacer step: dialctl cps auto --once)`
}

/**
 * The operator's decision that set the live limit below what it was, if one is in effect: the
 * newest cut in the audit whose old limit is still above the live one, or the hold; none while the
 * live limit is the default (no audited change set it). Times are ISO.
 */
export function limitDecision(
  input: Pick<RateLimitInput, 'pacing' | 'audit' | 'kind'>,
): { at: string; cause: string; fix: string } | undefined {
  const live = input.pacing.limit.limit
  // A default limit (nobody set one, or the store lost it) was decided by no audited change.
  if (input.pacing.limit.source === 'default') return undefined
  // The newest cut (later entries, if any, are raises); it explains only while the live limit is below where it cut from.
  const cut = input.audit?.find((e) => e.oldLimit !== null && e.newLimit < e.oldLimit)
  if (cut && live < cut.oldLimit!)
    return {
      at: cut.at,
      cause: `the limit was cut from ${cut.oldLimit} to ${cut.newLimit} cps at ${cut.at} by ${cut.actor} (${cut.source}: ${cut.reason})`,
      fix: `dialctl cps history; if the cut is no longer needed: dialctl cps set ${cut.oldLimit} --reason "…" (check worker CPU first: dialctl cps auto --once --dry-run)`,
    }
  const control = input.pacing.control
  if (control?.mode === 'held' && control.lastChange)
    return {
      at: control.lastChange.at,
      cause: `the limit is held at ${live} cps by ${control.heldBy ?? control.lastChange.actor}${control.holdReason ? ` (${control.holdReason})` : ''}${control.heldUntil ? ` until ${control.heldUntil}` : ''}: ${pacerSteers(input.kind) ? 'the adaptive pacer cannot raise it' : 'only an operator changes it (the local stack runs no pacer)'}`,
      fix: pacerSteers(input.kind)
        ? 'dialctl cps auto --resume --reason "…" (the adaptive pacer steers again), or dialctl cps set N --reason "…"'
        : `dialctl cps set N --reason "…" (ending the hold with dialctl cps auto --resume changes nothing here: ${localPacerNote(live)})`,
    }
  return undefined
}

/**
 * The rate-limiting verdict, rules in order (first match decides):
 * 1. `quiet` ok: at most RATE_LIMITED_ALARM of the last 60 s's attempts deferred.
 * 2. `stalled` fail: deferring for at least STALL_MIN_SECONDS while admitting less than
 *    STALL_ADMIT_SHARE of what the limit allows in those seconds (deferrals without dials).
 * 3. `starved` fail: demand ≥ FAR_BELOW_DEMAND × the limit, and the cut or hold that set the limit
 *    is older than LONG_CUT_MINUTES.
 * 4. `cut` warn: deferring above the alarm after a cut or hold that is still fresh (or not far
 *    below demand): the operator's decision, named with the command that undoes it.
 * 5. `paced` ok: demand above the limit, dialed at the limit: a backlog draining at full speed.
 */
export function judgeRateLimiting(input: RateLimitInput): Verdict {
  const p = input.pacing
  const { attempts, admitted, seconds } = demandOf(p)
  const pct = `${(p.rateLimitedShare * 100).toFixed(1)}%`
  const sharing = input.active.length > 1 ? `, shared by ${input.active.length} active campaigns` : ''
  const base = `${pct} of ${attempts} dial attempts deferred (last 60 s), ${admitted} admitted; limit ${p.limit.limit} cps (${p.limit.source})${sharing}`
  if (p.rateLimitedShare <= RATE_LIMITED_ALARM) return { status: 'ok', rule: 'quiet', detail: base }
  const allowed = p.limit.limit * seconds
  if (seconds >= STALL_MIN_SECONDS && admitted < STALL_ADMIT_SHARE * allowed)
    return {
      status: 'fail',
      rule: 'stalled',
      detail: `${base}: only ${admitted} of the ${allowed} the limit allows in the ${seconds} s with demand`,
      cause: p.degraded
        ? 'dialers pace on their small local fallback limit (Redis unreachable)'
        : 'tasks are deferred but few are dialed: the limiter refuses slots the limit should give (pacing state in Redis?)',
      fix: 'dialctl cps get; dialctl doctor (Redis reachable?); read the dialer log for "Rate limit reached"',
    }
  const decision = limitDecision(input)
  const ageMinutes = decision ? (input.now.getTime() - Date.parse(decision.at)) / 60_000 : 0
  const farBelow = p.rateLimitedShare >= 1 - 1 / FAR_BELOW_DEMAND
  if (decision && farBelow && ageMinutes >= LONG_CUT_MINUTES)
    return {
      status: 'fail',
      rule: 'starved',
      detail: `${base}: demand about ${(1 / Math.max(1 - p.rateLimitedShare, 0.01)).toFixed(0)}× the limit for ${Math.round(ageMinutes)} min`,
      cause: decision.cause,
      fix: decision.fix,
    }
  if (decision) return { status: 'warn', rule: 'cut', detail: base, cause: decision.cause, fix: decision.fix }
  return {
    status: 'ok',
    rule: 'paced',
    detail: `${base}: demand above the limit, the backlog is dialed at the limit (deferral, not failure; to go faster: dialctl cps set N --reason "…")`,
  }
}

/** Dead letters in the doctor's outcome look-back (recorded by the local queue's dead-letter hook). */
function recentDeadLetters(outcomes: OutcomeCount[] | undefined): number {
  return (outcomes ?? []).filter((x) => x.outcome === 'dlq').reduce((n, x) => n + x.count, 0)
}

/**
 * The DLQ verdict: empty → ok; growing (dead letters recorded in the last DLQ_GROWTH_MINUTES) → fail;
 * dead letters first sent within that window also → fail (growing); outcomes unreadable → fail
 * (unknown); holding only older ones → warn (they wait for a redrive or a purge). On AWS SQS moves tasks to the
 * DLQ without any of our code seeing it, so growth cannot be told from old: any dead letter fails.
 */
export function judgeDlq(
  dlq: QueueDepth,
  outcomes: OutcomeCount[] | undefined,
  kind: 'local' | 'aws',
): Verdict {
  const n = dlq.visible + dlq.inFlight
  if (n === 0) return { status: 'ok', rule: 'empty', detail: 'no task failed its last receive' }
  const recent = recentDeadLetters(outcomes)
  const tasks = `${n} task${n === 1 ? '' : 's'}`
  const fix = 'dialctl dlq list; after fixing the cause: dialctl dlq redrive --wait'
  const cause = 'tasks failed every receive allowed (maxReceiveCount): consumer errors or a failing worker'
  if (kind === 'aws')
    return {
      status: 'fail',
      rule: 'holds',
      detail: `${tasks} failed every receive; the oldest was first sent ${Math.round(dlq.oldestAgeSeconds)} s ago`,
      cause,
      fix,
    }
  if (recent > 0)
    return {
      status: 'fail',
      rule: 'growing',
      detail: `${tasks}, ${recent} moved there in the last ${DLQ_GROWTH_MINUTES} min`,
      cause,
      fix,
    }
  // A dead letter first sent within the window moved there within it, whatever outcomes say.
  if (dlq.oldestAgeSeconds < DLQ_GROWTH_MINUTES * 60)
    return {
      status: 'fail',
      rule: 'growing',
      detail: `${tasks}; the oldest was first sent ${Math.round(dlq.oldestAgeSeconds)} s ago (within ${DLQ_GROWTH_MINUTES} min)`,
      cause,
      fix,
    }
  // Without outcomes, "none new" cannot be told: unknown is not a warning.
  if (outcomes === undefined)
    return {
      status: 'fail',
      rule: 'unknown',
      detail: `${tasks}; whether any is new cannot be told (outcomes unreadable)`,
      cause,
      fix,
    }
  return {
    status: 'warn',
    rule: 'old',
    detail: `${tasks}, none new in the last ${DLQ_GROWTH_MINUTES} min; the oldest was first sent ${Math.round(dlq.oldestAgeSeconds)} s ago`,
    cause: 'earlier failures wait for a redrive or a purge',
    fix,
  }
}

/**
 * The worker verdict, from the dialer's counts over the pipe metrics' window (pipe_metrics
 * locally, CloudWatch `DialedTasks` / `WorkerDeferrals` on AWS). A worker that answers 429 (at
 * capacity) or 503 draining defers the task by its Retry-After without spending a receive
 * (docs/pacing.md), so a worker that does so forever fails nothing and fills no DLQ: this is the
 * rule that sees it.
 * 1. `unmeasured` ok: the stage reported no such counts (an older deployment).
 * 2. `refusing` fail: at least WORKER_REFUSING_MIN deferrals and not one dial accepted.
 * 3. `busy` warn: at least WORKER_REFUSING_MIN deferrals, more than the dials accepted.
 * 4. `accepting` ok.
 */
export function judgeWorker(metrics: PipeMetrics | undefined, workerUrl: string | undefined): Verdict {
  const deferrals = metrics?.workerDeferrals
  if (!metrics || deferrals === undefined)
    return { status: 'ok', rule: 'unmeasured', detail: 'worker deferrals are not measured on this stage' }
  const dialed = metrics.dialed ?? 0
  const worker = workerUrl ? `the worker at ${workerUrl}` : 'the worker'
  const counts = `${deferrals} task(s) deferred by ${worker} (429 at capacity / 503 draining), ${dialed} dial(s) accepted in the last ${metrics.windowMinutes} min`
  const fix = `curl -s ${workerUrl ?? '<worker URL>'}/metrics (active calls against its capacity, draining?), then restart or scale the worker (locally: Ctrl-C, dialctl dev)`
  if (deferrals >= WORKER_REFUSING_MIN && dialed === 0)
    return {
      status: 'fail',
      rule: 'refusing',
      detail: counts,
      cause: `${worker} refuses every POST /dial (at capacity or draining): each task is deferred by its Retry-After, so none fails, none reaches the DLQ, and none is dialed`,
      fix,
    }
  if (deferrals >= WORKER_REFUSING_MIN && deferrals > dialed)
    return {
      status: 'warn',
      rule: 'busy',
      detail: counts,
      cause: `${worker} refuses most POST /dial (at capacity or draining): its tasks come back after its Retry-After`,
      fix,
    }
  return { status: 'ok', rule: 'accepting', detail: counts }
}
