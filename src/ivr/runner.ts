import type { CaptureInputNode, IvrAction, IvrFlow, IvrNode } from '../contracts/ivr.js'
import type { ActiveCall } from '../telephony/driver.js'
import { errorMessage } from '../errors.js'

/**
 * Runs side-effecting IVR actions (trigger_donation, add_to_blacklist, …). Flow-control actions
 * (hangup, goto) are handled by the runner itself, so a driver or a test never has to.
 * Throwing marks the action as failed; the call goes on, because the callee is still listening.
 */
export interface ActionRunner {
  run(action: IvrAction, context: { digit: string; nodeId: string }): Promise<void>
}

export interface ActionRecord {
  type: string
  ok: boolean
  digit?: string
  error?: string
}

export type IvrEndReason =
  /** a node without a next node was reached; the runner hung up */
  | 'completed'
  /** the callee hung up */
  | 'callee-hangup'
  /** a `hangup` action ran */
  | 'hangup-action'
  /** no digit, and the node has no onTimeoutNodeId */
  | 'timeout'
  /** a key outside validInputs, and the node has no onInvalidNodeId */
  | 'invalid-input'
  /** the step bound was reached (a loop in the flow) */
  | 'step-limit'
  /** the flow names a node that does not exist */
  | 'error'
  /** the prompt could not be played on a live channel: the callee heard nothing (retryable) */
  | 'media-failure'
  /** Asterisk shut down or went away mid-call: neither the callee nor the flow ended it */
  | 'telephony-restart'

export interface IvrRunResult {
  /** the last valid digit the callee pressed */
  digit?: string
  /** every key pressed, valid or not, in order */
  digits: string[]
  actions: ActionRecord[]
  endedBy: IvrEndReason
  steps: number
  error?: string
}

export interface RunIvrOptions {
  /** node visits before the run is stopped; guards replay loops (default 50) */
  maxSteps?: number
}

export const DEFAULT_MAX_STEPS = 50

/** Action types the runner handles without the ActionRunner. */
const FLOW_ACTIONS = new Set(['hangup', 'goto'])

/**
 * Executes `flow` on an answered call. Pure of I/O except through `call` and `actions`.
 * Whatever ends the run, the call is hung up on return (unless the callee already did).
 */
export async function runIvr(
  flow: IvrFlow,
  call: ActiveCall,
  actions: ActionRunner,
  options: RunIvrOptions = {},
): Promise<IvrRunResult> {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS
  const nodes = new Map<string, IvrNode>(flow.nodes.map((n) => [n.id, n]))
  const result: IvrRunResult = { digits: [], actions: [], endedBy: 'completed', steps: 0 }

  let nodeId: string | undefined = flow.startNodeId
  while (nodeId !== undefined) {
    if (call.hungUp) return endRun(call, result, 'callee-hangup')
    if (result.steps >= maxSteps)
      return endRun(call, result, 'step-limit', `stopped after ${maxSteps} steps (loop in the flow?)`)
    const node = nodes.get(nodeId)
    if (!node) return endRun(call, result, 'error', `ivrFlow: node "${nodeId}" does not exist`)
    result.steps++

    if (node.type === 'play_audio') {
      const played = await call.play(node.audioUrl)
      if (!played.completed) {
        if (played.mediaFailed)
          return endRun(
            call,
            result,
            'media-failure',
            played.error ?? `the audio of node "${node.id}" could not be played`,
          )
        if (call.hungUp) return endRun(call, result, 'callee-hangup')
        return endRun(call, result, 'error', played.error ?? `playback of node "${node.id}" did not complete`)
      }
      nodeId = node.nextNodeId
      continue
    }

    const step = await captureStep(node, call, actions, result)
    if (step.end) return endRun(call, result, step.end, step.error)
    nodeId = step.next
  }
  return endRun(call, result, 'completed')
}

/** Ends a run: records what ended it, and hangs up unless the callee already did. */
async function endRun(
  call: ActiveCall,
  result: IvrRunResult,
  endedBy: IvrEndReason,
  error?: string,
): Promise<IvrRunResult> {
  // The callee may have hung up while we were deciding; report what really ended the call.
  result.endedBy =
    call.endReason === 'telephony-restart'
      ? 'telephony-restart'
      : call.hungUp && endedBy !== 'hangup-action' && endedBy !== 'media-failure'
        ? 'callee-hangup'
        : endedBy
  if (error) result.error = error
  if (!call.hungUp) await call.hangup()
  return result
}

type CaptureStep =
  | { next: string | undefined; end?: undefined; error?: undefined }
  | { end: IvrEndReason; error?: string; next?: undefined }

async function captureStep(
  node: CaptureInputNode,
  call: ActiveCall,
  actions: ActionRunner,
  result: IvrRunResult,
): Promise<CaptureStep> {
  const input = await call.collectDigit(node.timeout)
  if (input.kind === 'hangup') return { end: 'callee-hangup' }
  if (input.kind === 'timeout') {
    return node.onTimeoutNodeId ? { next: node.onTimeoutNodeId } : { end: 'timeout' }
  }

  const digit = input.digit
  result.digits.push(digit)
  const action = node.validInputs.includes(digit) ? node.actions[digit] : undefined
  if (!action) {
    // A key we do not offer (or a valid key without an action, which flow validation rejects).
    return node.onInvalidNodeId ? { next: node.onInvalidNodeId } : { end: 'invalid-input' }
  }
  result.digit = digit

  if (action.type === 'hangup') {
    result.actions.push({ type: 'hangup', ok: true, digit })
    return { end: 'hangup-action' }
  }
  if (action.type === 'goto') {
    const target = action.parameters.nodeId
    if (typeof target !== 'string' || target.length === 0) {
      const error = `goto on digit ${digit} of node "${node.id}" needs parameters.nodeId`
      result.actions.push({ type: 'goto', ok: false, digit, error })
      return { end: 'error', error }
    }
    result.actions.push({ type: 'goto', ok: true, digit })
    return { next: target }
  }
  if (!FLOW_ACTIONS.has(action.type)) {
    try {
      await actions.run(action, { digit, nodeId: node.id })
      result.actions.push({ type: action.type, ok: true, digit })
    } catch (error) {
      result.actions.push({ type: action.type, ok: false, digit, error: errorMessage(error) })
    }
  }
  return { next: node.nextNodeId }
}
