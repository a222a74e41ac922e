import type { ActionRunner } from '../ivr/runner.js'
import type { DialCommand } from '../contracts/messages.js'
import type { CallSummary, RunCallDeps } from './run-call.js'
import type { TraceContext } from '../tracing/context.js'
import type { OpenSpan, SpanAttributes, Tracer } from '../tracing/tracer.js'
import type { ActiveCall, TelephonyDriver } from '../telephony/driver.js'

/**
 * The worker's spans of one call, in the task's trace (the POST /dial's `x-amzn-trace-id`, whose
 * Parent is the dialer's dial-request): `originated` (ringing, with the outcome and Q.850 cause),
 * `answered` (the connected part) and under it one `playback` per prompt, one `digit` per wait
 * for a key (the key pressed, or timeout / hangup — a single DTMF key, never a number), one
 * `action` per IVR action; then `ended` (from the hang-up to the outcome row written, with the final
 * status). Children of `claimCtx`,
 * the dial gate's `claimed` span. The driver and the action runner are wrapped, so neither the
 * IVR runner nor the drivers know about tracing.
 */
export class CallTrace {
  private answered?: OpenSpan
  private ended?: OpenSpan

  constructor(
    private readonly tracer: Tracer,
    private readonly claimCtx: TraceContext | undefined,
    private readonly ids: SpanAttributes,
  ) {}

  /** The driver, with `originated` around originate and the answered call's steps traced. */
  driver(driver: TelephonyDriver): TelephonyDriver {
    return {
      name: driver.name,
      healthy: () => driver.healthy(),
      close: () => driver.close(),
      originate: async (request) => {
        const span = this.tracer.open('originated', this.claimCtx, this.ids)
        const out = await driver.originate(request)
        span.end({
          status: out.result.outcome,
          ...(out.result.hangupCause !== undefined ? { hangupCause: out.result.hangupCause } : {}),
          ...(out.result.reason ? { reason: out.result.reason } : {}),
        })
        if (out.result.outcome !== 'answered' || !out.call) {
          this.hangingUp()
          return out
        }
        this.answered = this.tracer.open('answered', this.claimCtx, {
          ...this.ids,
          ...(out.result.amd ? { status: out.result.amd.status } : {}),
        })
        return { ...out, call: this.call(out.call, this.answered.ctx) }
      },
    }
  }

  private call(call: ActiveCall, ctx: TraceContext): ActiveCall {
    const step = async <T>(
      name: 'playback' | 'digit',
      work: () => Promise<T>,
      attrs: (r: T) => SpanAttributes,
    ) => {
      const span = this.tracer.open(name, ctx, { callId: this.ids.callId })
      const result = await work()
      span.end(attrs(result))
      return result
    }
    return {
      callId: call.callId,
      get hungUp() {
        return call.hungUp
      },
      get hangupCause() {
        return call.hangupCause
      },
      get endReason() {
        return call.endReason
      },
      play: (url) =>
        step(
          'playback',
          () => call.play(url),
          (r) => ({
            status: r.completed ? 'completed' : r.mediaFailed ? 'media-failed' : 'interrupted',
          }),
        ),
      collectDigit: (timeoutSeconds) =>
        step(
          'digit',
          () => call.collectDigit(timeoutSeconds),
          (r) => (r.kind === 'digit' ? { status: 'digit', digit: r.digit } : { status: r.kind }),
        ),
      hangup: () => {
        this.hangingUp()
        return call.hangup()
      },
    }
  }

  /** The IVR's actions, each an `action` span under `answered`. */
  actions(runner: ActionRunner): ActionRunner {
    return {
      run: async (action, context) => {
        const span = this.tracer.open('action', this.answered?.ctx ?? this.claimCtx, {
          callId: this.ids.callId,
          action: action.type,
          digit: context.digit,
        })
        try {
          await runner.run(action, context)
          span.end({ status: 'ok' })
        } catch (error) {
          span.end({ status: 'failed' })
          throw error
        }
      },
    }
  }

  /** The hang-up: `answered` (if any) ends, `ended` begins; later calls do nothing. */
  private hangingUp(): void {
    if (this.ended) return
    this.answered?.end()
    this.ended = this.tracer.open('ended', this.claimCtx, this.ids)
  }

  /** The outcome is recorded (runCall resolved): `ended` closes with the call's final state. */
  end(summary: CallSummary): void {
    this.hangingUp()
    const endedBy = summary.ivr?.endedBy ?? summary.endedBy
    this.ended!.end({
      status: summary.status,
      ...(summary.hangupCause !== undefined ? { hangupCause: summary.hangupCause } : {}),
      ...(endedBy ? { endedBy } : {}),
      ...(summary.reason ? { reason: summary.reason } : {}),
    })
  }
}

/**
 * runCall's dependencies for one call, traced when `tracer` is on: the driver and the action
 * runner wrapped by a CallTrace under `parent` (the claimed span), which the caller ends with
 * the call's summary. Off: `deps` unchanged and no trace.
 */
export function traceCall(
  tracer: Tracer,
  parent: TraceContext | undefined,
  deps: RunCallDeps,
  cmd: Pick<DialCommand, 'callId' | 'campaignId' | 'contactId'>,
  attempt: number,
): { deps: RunCallDeps; trace?: CallTrace } {
  if (!tracer.enabled) return { deps }
  const { callId, campaignId, contactId } = cmd
  const trace = new CallTrace(tracer, parent, { callId, campaignId, contactId, attempt })
  return {
    deps: { ...deps, driver: trace.driver(deps.driver), wrapActions: (runner) => trace.actions(runner) },
    trace,
  }
}
