import type { ControlPlane } from '../control/port.js'
import { operatorError } from '../errors.js'
import type { Timeline, TimelineRow } from './pg-sink.js'
import { maskForTrace } from './tracer.js'

/** What `dialctl trace CALL_ID` returns (its --json output). */
export type CallTimeline =
  | {
      stage: string
      callId: string
      source: 'postgres'
      traceIds: string[]
      /** from the first span's start to the last span's end, ms */
      totalMs: number
      rows: TimelineRow[]
    }
  | {
      stage: string
      callId: string
      source: 'xray'
      /** paste in the console's query box (X-Ray filter expression over our annotations) */
      filterExpression: string
      console: string
    }

/**
 * The timeline of the task that became `callId`: the spans recorded by the local stack under
 * `dialctl dev --trace`, oldest first; on an AWS stage,
 * where the spans are in X-Ray, how to find its trace there (the callId annotation every span
 * carries). Throws an OperatorError (exit 1) when the local stage has no span of that call.
 */
export async function callTimeline(
  plane: Pick<ControlPlane, 'stage' | 'traceTimeline'>,
  callId: string,
  region?: string,
): Promise<CallTimeline> {
  if (!plane.traceTimeline) {
    const host = region ? `${region}.console.aws.amazon.com` : 'console.aws.amazon.com'
    return {
      stage: plane.stage,
      callId,
      source: 'xray',
      filterExpression: `annotation.callId = "${maskForTrace(callId)}"`,
      console: `https://${host}/cloudwatch/home${region ? `?region=${region}` : ''}#xray:traces/query`,
    }
  }
  const timeline = await plane.traceTimeline(callId)
  if (timeline.rows.length === 0)
    throw operatorError(
      `No spans recorded for call ${callId} on stage ${plane.stage}.`,
      'Spans are recorded only while the stack runs with `dialctl dev --trace`; a call id is ' +
        'call.<campaign>.<contact>.<attempt> (attempt 0 first), as the worker logs it ("call accepted").',
      'TRACE_NOT_FOUND',
    )
  return { stage: plane.stage, callId, source: 'postgres', ...withTotal(timeline) }
}

function withTotal(timeline: Timeline): { traceIds: string[]; totalMs: number; rows: TimelineRow[] } {
  const end = Math.max(0, ...timeline.rows.map((r) => r.offsetMs + r.durationMs))
  return { traceIds: timeline.traceIds, totalMs: end, rows: timeline.rows }
}
