import { createSocket, type Socket } from 'node:dgram'
import type { Span, SpanName, SpanSink } from './tracer.js'

/**
 * Spans to the X-Ray daemon as segment documents over UDP — the Lambda runtime's built-in daemon
 * and the worker's sidecar (stacks/worker.ts) listen at AWS_XRAY_DAEMON_ADDRESS (default
 * 127.0.0.1:2000). Format, per the AWS X-Ray developer guide, "Sending trace data to AWS X-Ray"
 * (docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html, "Sending segment documents
 * to the X-Ray daemon"): one datagram per document, the header `{"format": "json", "version": 1}`,
 * a newline, then the document. Fields per "AWS X-Ray segment documents" (xray-api-segmentdocuments):
 * a segment has name, id (16 hex), trace_id, start_time/end_time (epoch seconds, float) and may
 * have parent_id when its caller is instrumented; a subsegment sent on its own adds
 * `"type": "subsegment"` and the parent_id of the segment (or subsegment) it belongs to, and
 * `namespace: "remote"` (or "aws") for a downstream call, which the trace map draws as its own
 * node. Annotations (indexed, searchable with filter expressions such as
 * `annotation.callId = "call.gala.c-17.0"`) take string, number or boolean values under
 * alphanumeric keys.
 *
 * Why not the X-Ray SDK (or Powertools Tracer, which wraps it): it traces one invocation, while a
 * pipe batch carries up to ten tasks, each with its own trace (its message's AWSTraceHeader). Each
 * of our spans must land in its task's trace, which is what a plain segment document with that
 * trace id and parent does. The SDK is also CommonJS with global context, which ESM bundles need
 * shims for.
 */
export function createXRaySpanSink(
  options: { address?: string; service?: string; socket?: Pick<Socket, 'send'> } = {},
): SpanSink {
  const [host, portText] = (options.address ?? process.env.AWS_XRAY_DAEMON_ADDRESS ?? '127.0.0.1:2000').split(
    ':',
  )
  const port = Number(portText ?? 2000)
  const socket = options.socket ?? createSocket('udp4').unref()
  const service = options.service ?? 'dialctl'
  return {
    async export(spans) {
      await Promise.all(
        spans.map(
          (span) =>
            new Promise<void>((resolve, reject) => {
              const message = Buffer.from(
                `{"format":"json","version":1}\n${JSON.stringify(segmentDocument(span, service))}`,
              )
              socket.send(message, port, host, (error) => (error ? reject(error) : resolve()))
            }),
        ),
      )
    },
  }
}

/**
 * How each stage shows in X-Ray. Work a process does itself is a segment named after the process
 * (the service), so the trace map has one node per service; calls out of it are subsegments with
 * the node they reach (the seed's map: Pipe → Enrich → PostgreSQL, Dialer → Redis, Worker →
 * Asterisk); the time before the first Lambda is drawn as the queue and the pipe.
 */
const SHAPES: Partial<Record<SpanName, { name: string; namespace?: 'remote' | 'aws'; segment?: true }>> = {
  queued: { name: 'dial-tasks queue', segment: true },
  received: { name: 'dial-tasks pipe', segment: true },
  postgres: { name: 'PostgreSQL', namespace: 'remote' },
  admitted: { name: 'Redis', namespace: 'remote' },
  deferred: { name: 'SQS', namespace: 'aws' },
  'dial-request': { name: 'worker', namespace: 'remote' },
  originated: { name: 'Asterisk', namespace: 'remote' },
  playback: { name: 'playback' },
  digit: { name: 'digit' },
  action: { name: 'action' },
}

/** One span as an X-Ray segment document; annotations are indexed (searchable in the console). */
export function segmentDocument(span: Span, service: string): Record<string, unknown> {
  const annotations: Record<string, string | number | boolean> = { stage: span.name }
  for (const [key, value] of Object.entries(span.attributes)) {
    if (value !== undefined) annotations[key] = value as string | number | boolean
  }
  const shape = SHAPES[span.name]
  const subsegment = shape !== undefined && !shape.segment && span.parentId !== undefined
  return {
    name: shape?.name ?? service,
    id: span.spanId,
    trace_id: span.traceId,
    ...(span.parentId ? { parent_id: span.parentId } : {}),
    start_time: span.startMs / 1000,
    end_time: span.endMs / 1000,
    ...(subsegment ? { type: 'subsegment', ...(shape.namespace ? { namespace: shape.namespace } : {}) } : {}),
    ...(span.name === 'dial-request'
      ? {
          http: {
            request: { method: 'POST', url: '/dial' },
            ...(span.attributes.httpStatus ? { response: { status: span.attributes.httpStatus } } : {}),
          },
        }
      : {}),
    annotations,
  }
}
