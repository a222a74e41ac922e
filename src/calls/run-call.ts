import type { Logger } from '@aws-lambda-powertools/logger'
import { sleep } from '../clock.js'
import type { IvrAction } from '../contracts/ivr.js'
import type { DialCommand } from '../contracts/messages.js'
import type { Db } from '../db/pool.js'
import { runIvr, type ActionRunner, type IvrRunResult } from '../ivr/runner.js'
import { logsAt } from '../observability/logger.js'
import { maskPhone } from '../observability/mask.js'
import type { AmdConfig } from '../contracts/campaign.js'
import type {
  ActiveCall,
  AmdResult,
  CallEndReason,
  CallOutcome,
  OriginateResult,
  TelephonyDriver,
} from '../telephony/driver.js'
import { addToBlacklist, finishCall, recordDonation, type CallContext, type FinishCall } from './recorder.js'
import { errorMessage } from '../errors.js'

export interface RunCallDeps {
  db: Db
  driver: TelephonyDriver
  logger: Logger
  /** wraps the IVR's action runner (the worker's tracing: src/calls/trace.ts) */
  wrapActions?: (runner: ActionRunner) => ActionRunner
}

export interface RunCallOptions {
  /** seconds to ring before no-answer (default 30) */
  ringTimeoutSeconds?: number
  /** IVR step bound (default the runner's) */
  maxSteps?: number
  /** delays between tries to record the outcome when PostgreSQL hiccups */
  recordRetryDelaysMs?: number[]
}

export interface CallSummary {
  callId: string
  status: CallOutcome
  hangupCause?: number
  digit?: string
  ivr?: IvrRunResult
  error?: string
  /** why a failed call failed (media, telephony-restart, …) */
  reason?: CallEndReason
  durationMs: number
  /** Asterisk's AMD verdict, when the campaign asked for detection */
  amd?: AmdResult
  /** what ended a call the IVR did not run for (a machine): see MachineEnd */
  endedBy?: MachineEnd
  /** false when the outcome could not be written (the row stays 'dialing' until failOpenCalls) */
  recorded: boolean
}

const wrapped = (deps: RunCallDeps, runner: ActionRunner) => deps.wrapActions?.(runner) ?? runner

/** The worker's actions against PostgreSQL; flow-control actions never reach it (the runner does them). */
export function dbActionRunner(db: Db, call: CallContext): ActionRunner {
  return {
    async run(action: IvrAction, { digit }) {
      switch (action.type) {
        case 'trigger_donation':
          return recordDonation(db, call, { ...action.parameters, digit })
        case 'add_to_blacklist': {
          const reason = typeof action.parameters.reason === 'string' ? action.parameters.reason : ''
          await addToBlacklist(db, call, reason || `callee opted out in the IVR (pressed ${digit})`)
          return
        }
        default:
          throw new Error(
            `unknown IVR action "${action.type}": the worker runs trigger_donation, add_to_blacklist, hangup, goto`,
          )
      }
    },
  }
}

/**
 * call_attempts.ended_by of a call AMD classified as a machine. `voicemail-left`: the message
 * played to its end (the contact is done: the number was reached and the appeal delivered);
 * `amd-hangup`: we hung up on the machine, and `voicemail-cut`: the machine hung up mid-message —
 * both retried like a no-answer within maxAttemptsPerContact (docs/contact-states.md).
 */
export type MachineEnd = 'amd-hangup' | 'voicemail-cut' | 'voicemail-left'

/** The campaign's AMD policy on a call AMD said is a machine: hang up, or leave the message. */
async function handleMachine(
  call: ActiveCall,
  amd: Exclude<AmdConfig, { mode: 'off' }>,
): Promise<Pick<CallSummary, 'status' | 'endedBy' | 'reason' | 'error' | 'hangupCause'>> {
  if (amd.mode === 'hangup') {
    const { hangupCause } = await call.hangup()
    return { status: 'machine', endedBy: 'amd-hangup', ...(hangupCause !== undefined ? { hangupCause } : {}) }
  }
  const played = await call.play(amd.messageUrl)
  const { hangupCause } = await call.hangup()
  const cause = hangupCause !== undefined ? { hangupCause } : {}
  if (played.mediaFailed) {
    // The machine recorded silence: retry like any media failure (counted by the media guard).
    return {
      status: 'failed',
      reason: 'media',
      error: played.error ?? 'voicemail message could not be played',
      ...cause,
    }
  }
  return { status: 'machine', endedBy: played.completed ? 'voicemail-left' : 'voicemail-cut', ...cause }
}

/** What the phases of one call share: the summary they fill and when the callee picked up. */
interface CallState {
  summary: CallSummary
  /** set as the answer phase starts: a later driver error no longer makes the call 'failed' */
  answeredAt?: Date
}

/**
 * One accepted dial, start to end: ring (originate, with AMD when the campaign asks), the answer
 * phase (the machine policy, or the IVR and its actions), then record the outcome and log it.
 * Never rejects: every failure ends up in the summary (and, when PostgreSQL allows, in the row).
 */
export async function runCall(
  deps: RunCallDeps,
  cmd: DialCommand,
  attempt: number,
  options: RunCallOptions = {},
): Promise<CallSummary> {
  const started = Date.now()
  const state: CallState = {
    summary: { callId: cmd.callId, status: 'failed', durationMs: 0, recorded: false },
  }
  const { summary } = state
  try {
    const { result, call } = await ring(deps.driver, cmd, attempt, options)
    takeDialResult(summary, result)
    await answerPhase(deps, cmd, options, state, result, call)
  } catch (error) {
    // A driver must not throw, but if it does the call still gets an outcome.
    summary.error = `driver ${deps.driver.name}: ${errorMessage(error)}`
    if (!state.answeredAt) summary.status = 'failed'
  }
  summary.durationMs = Date.now() - started
  summary.recorded = await recordOutcome(
    deps,
    outcomeRow(cmd, attempt, state),
    options.recordRetryDelaysMs ?? RECORD_RETRY_DELAYS_MS,
  )
  logCallEnded(deps.logger, cmd, summary)
  return summary
}

/** Phase 1: originate and ring until answer, no-answer, busy or failure (AMD runs in the driver). */
function ring(
  driver: TelephonyDriver,
  cmd: DialCommand,
  attempt: number,
  options: RunCallOptions,
): Promise<{ result: OriginateResult; call?: ActiveCall }> {
  return driver.originate({
    callId: cmd.callId,
    phoneNumber: cmd.phoneNumber,
    ...(cmd.callerId ? { callerId: cmd.callerId } : {}),
    ringTimeoutSeconds: options.ringTimeoutSeconds ?? 30,
    variables: { CAMPAIGN_ID: cmd.campaignId, CONTACT_ID: cmd.contactId, ATTEMPT: String(attempt) },
    ...(cmd.amd && cmd.amd.mode !== 'off' ? { amd: cmd.amd.mode } : {}),
  })
}

/** The dial's result as the call's outcome so far (the answer phase may still change it). */
function takeDialResult(summary: CallSummary, result: OriginateResult): void {
  summary.status = result.outcome
  if (result.hangupCause !== undefined) summary.hangupCause = result.hangupCause
  if (result.error) summary.error = result.error
  if (result.reason) summary.reason = result.reason
  if (result.amd) summary.amd = result.amd
}

/**
 * Phase 2, on an answered call: a machine (AMD said so and the campaign detects) gets the
 * campaign's machine policy; a human the IVR. An answer without a call is the driver's fault.
 */
async function answerPhase(
  deps: RunCallDeps,
  cmd: DialCommand,
  options: RunCallOptions,
  state: CallState,
  result: OriginateResult,
  call: ActiveCall | undefined,
): Promise<void> {
  if (result.outcome !== 'answered') return
  if (!call) {
    state.summary.status = 'failed'
    state.summary.error = `driver ${deps.driver.name} reported an answer without a call`
    return
  }
  state.answeredAt = new Date()
  if (result.amd?.status === 'MACHINE' && cmd.amd && cmd.amd.mode !== 'off')
    Object.assign(state.summary, await handleMachine(call, cmd.amd))
  else await ivrPhase(deps, cmd, options, call, state.summary)
}

/** Phase 2 for a human: the IVR flow, its actions run against PostgreSQL (dbActionRunner). */
async function ivrPhase(
  deps: RunCallDeps,
  cmd: DialCommand,
  options: RunCallOptions,
  call: ActiveCall,
  summary: CallSummary,
): Promise<void> {
  const context: CallContext = {
    callId: cmd.callId,
    campaignId: cmd.campaignId,
    contactId: cmd.contactId,
    phoneNumber: cmd.phoneNumber,
  }
  const ivr = await runIvr(cmd.ivrFlow, call, wrapped(deps, dbActionRunner(deps.db, context)), {
    ...(options.maxSteps ? { maxSteps: options.maxSteps } : {}),
  })
  summary.ivr = ivr
  if (call.hangupCause !== undefined) summary.hangupCause = call.hangupCause
  if (ivr.digit) summary.digit = ivr.digit
  if (ivr.error) summary.error = ivr.error
  if (ivr.endedBy === 'media-failure') {
    // Picked up but heard nothing: not a finished call. Failed (retryable within the attempt
    // limit) with reason media, so the contact is called again and the campaign's audio counted.
    summary.status = 'failed'
    summary.reason = 'media'
  } else if (ivr.endedBy === 'telephony-restart') {
    summary.reason = 'telephony-restart'
  }
}

/** The call_attempts row that closes the call (src/calls/recorder.ts finishCall). */
function outcomeRow(cmd: DialCommand, attempt: number, { summary, answeredAt }: CallState): FinishCall {
  return {
    callId: cmd.callId,
    campaignId: cmd.campaignId,
    contactId: cmd.contactId,
    attempt,
    status: summary.status,
    ...(summary.hangupCause !== undefined ? { hangupCause: summary.hangupCause } : {}),
    ...(summary.digit ? { digit: summary.digit } : {}),
    actions: summary.ivr?.actions ?? [],
    ...(summary.error ? { error: summary.error } : {}),
    ...(summary.reason ? { reason: summary.reason } : {}),
    ...(summary.ivr ? { endedBy: summary.ivr.endedBy } : summary.endedBy ? { endedBy: summary.endedBy } : {}),
    ...(answeredAt ? { answeredAt } : {}),
    durationMs: summary.durationMs,
  }
}

/**
 * ~70 s of backoff: a worker pool exhausted under load (issue #15) frees up well within it, and the
 * call keeps its active slot meanwhile — backpressure on new dials rather than a row left dialing.
 */
const RECORD_RETRY_DELAYS_MS = [200, 1000, 2000, 5000, 10_000, 20_000, 30_000]

/** Phase 3: writes the outcome, retrying after each of `delays` ms; false when every try failed. */
async function recordOutcome(deps: RunCallDeps, record: FinishCall, delays: number[]): Promise<boolean> {
  for (let tryNo = 0; ; tryNo++) {
    try {
      await finishCall(deps.db, record)
      return true
    } catch (error) {
      if (tryNo >= delays.length) {
        deps.logger.error('call outcome not recorded; the row stays dialing until this worker restarts', {
          callId: record.callId,
          status: record.status,
          error: errorMessage(error),
        })
        return false
      }
      await sleep(delays[tryNo]!)
    }
  }
}

/** The one log line of a call (the number masked); nothing is built when INFO is off (issue #17). */
function logCallEnded(logger: Logger, cmd: DialCommand, summary: CallSummary): void {
  if (!logsAt(logger, 'info')) return
  logger.info('call ended', {
    callId: cmd.callId,
    campaignId: cmd.campaignId,
    contactId: cmd.contactId,
    phoneNumber: maskPhone(cmd.phoneNumber),
    status: summary.status,
    digit: summary.digit,
    actions: summary.ivr?.actions.map((a) => `${a.type}:${a.ok ? 'ok' : 'failed'}`),
    endedBy: summary.ivr?.endedBy ?? summary.endedBy,
    amd: summary.amd?.status,
    reason: summary.reason,
    durationMs: summary.durationMs,
    ...(summary.error ? { error: summary.error } : {}),
  })
}
