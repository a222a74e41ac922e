import type { Logger } from '@aws-lambda-powertools/logger'
import { sleep } from '../clock.js'
import type { IvrAction } from '../contracts/ivr.js'
import type { DialCommand } from '../contracts/messages.js'
import type { Db } from '../db/pool.js'
import { runIvr, type ActionRunner, type IvrRunResult } from '../ivr/runner.js'
import { maskPhone } from '../observability/mask.js'
import type { AmdConfig } from '../contracts/campaign.js'
import type {
  ActiveCall,
  AmdResult,
  CallEndReason,
  CallOutcome,
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

/**
 * One accepted dial, start to end: ring, run the IVR if answered, record the outcome.
 * Never rejects: every failure ends up in the summary (and, when PostgreSQL allows, in the row).
 */
export async function runCall(
  deps: RunCallDeps,
  cmd: DialCommand,
  attempt: number,
  options: RunCallOptions = {},
): Promise<CallSummary> {
  const { db, driver, logger } = deps
  const started = Date.now()
  const context: CallContext = {
    callId: cmd.callId,
    campaignId: cmd.campaignId,
    contactId: cmd.contactId,
    phoneNumber: cmd.phoneNumber,
  }
  const summary: CallSummary = { callId: cmd.callId, status: 'failed', durationMs: 0, recorded: false }
  let answeredAt: Date | undefined

  try {
    const { result, call } = await driver.originate({
      callId: cmd.callId,
      phoneNumber: cmd.phoneNumber,
      ...(cmd.callerId ? { callerId: cmd.callerId } : {}),
      ringTimeoutSeconds: options.ringTimeoutSeconds ?? 30,
      variables: { CAMPAIGN_ID: cmd.campaignId, CONTACT_ID: cmd.contactId, ATTEMPT: String(attempt) },
      ...(cmd.amd && cmd.amd.mode !== 'off' ? { amd: cmd.amd.mode } : {}),
    })
    summary.status = result.outcome
    if (result.hangupCause !== undefined) summary.hangupCause = result.hangupCause
    if (result.error) summary.error = result.error
    if (result.reason) summary.reason = result.reason
    if (result.amd) summary.amd = result.amd
    if (
      result.outcome === 'answered' &&
      call &&
      result.amd?.status === 'MACHINE' &&
      cmd.amd &&
      cmd.amd.mode !== 'off'
    ) {
      answeredAt = new Date()
      Object.assign(summary, await handleMachine(call, cmd.amd))
    } else if (result.outcome === 'answered' && call) {
      answeredAt = new Date()
      const ivr = await runIvr(cmd.ivrFlow, call, wrapped(deps, dbActionRunner(db, context)), {
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
    } else if (result.outcome === 'answered') {
      summary.status = 'failed'
      summary.error = `driver ${driver.name} reported an answer without a call`
    }
  } catch (error) {
    // A driver must not throw, but if it does the call still gets an outcome.
    summary.error = `driver ${driver.name}: ${errorMessage(error)}`
    if (!answeredAt) summary.status = 'failed'
  }
  summary.durationMs = Date.now() - started

  const record: FinishCall = {
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
  // ~70 s of backoff: a worker pool exhausted under load (issue #15) frees up well within it, and the
  // call keeps its active slot meanwhile — backpressure on new dials rather than a row left dialing.
  const delays = options.recordRetryDelaysMs ?? [200, 1000, 2000, 5000, 10_000, 20_000, 30_000]
  for (let tryNo = 0; ; tryNo++) {
    try {
      await finishCall(db, record)
      summary.recorded = true
      break
    } catch (error) {
      if (tryNo >= delays.length) {
        logger.error('call outcome not recorded; the row stays dialing until this worker restarts', {
          callId: cmd.callId,
          status: summary.status,
          error: errorMessage(error),
        })
        break
      }
      await sleep(delays[tryNo]!)
    }
  }

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
  return summary
}
