import { createSocket, type Socket } from 'node:dgram'
import type { Span, SpanSink } from './tracer.js'

/**
 * Spans to the X-Ray daemon as segment documents over UDP — the Lambda runtime's built-in daemon
 * and the worker's sidecar (stacks/worker.ts) listen at AWS_XRAY_DAEMON_ADDRESS (default
 * 127.0.0.1:2000). Format: a JSON header line, then one segment document per datagram (AWS X-Ray
 * developer guide, "Sending segment documents to the X-Ray daemon"; "Segment documents").
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

/** One span as an X-Ray segment document; annotations are indexed (searchable in the console). */
export function segmentDocument(span: Span, service: string): Record<string, unknown> {
  const annotations: Record<string, string | number | boolean> = {}
  for (const [key, value] of Object.entries(span.attributes)) {
    if (value !== undefined) annotations[key] = value as string | number | boolean
  }
  return {
    name: `${service}.${span.name}`,
    id: span.spanId,
    trace_id: span.traceId,
    ...(span.parentId ? { parent_id: span.parentId } : {}),
    start_time: span.startMs / 1000,
    end_time: span.endMs / 1000,
    annotations,
  }
}
