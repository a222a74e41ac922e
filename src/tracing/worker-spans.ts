import type { IncomingHttpHeaders } from 'node:http'
import type { DialCommand } from '../contracts/messages.js'
import { parseTraceHeader, TRACE_HEADER } from './context.js'
import type { OpenSpan, Tracer } from './tracer.js'

/**
 * The worker's first span of a call: `claimed`, the dial gate's claim, in the trace the POST
 * /dial's `x-amzn-trace-id` names (a new trace when the request carries none). `slotWaitMs` is
 * the time the request waited at the trunk gate for its limiter slot before the claim.
 */
export function openClaimSpan(
  tracer: Tracer,
  headers: IncomingHttpHeaders,
  cmd: Pick<DialCommand, 'callId' | 'campaignId' | 'contactId' | 'attempt'>,
  slotWaitMs: number,
): OpenSpan {
  const header = headers[TRACE_HEADER]
  return tracer.open('claimed', parseTraceHeader(Array.isArray(header) ? header[0] : header), {
    callId: cmd.callId,
    campaignId: cmd.campaignId,
    contactId: cmd.contactId,
    ...(cmd.attempt !== undefined ? { attempt: cmd.attempt } : {}),
    slotWaitMs,
  })
}
