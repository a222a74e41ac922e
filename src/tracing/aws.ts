import { parseTraceHeader, type TraceContext } from './context.js'
import { createTracer, NO_TRACER, type Tracer } from './tracer.js'
import { createXRaySpanSink } from './xray-sink.js'

/**
 * The tracer of a process on AWS: X-Ray segment documents to the daemon at
 * AWS_XRAY_DAEMON_ADDRESS — which Lambda sets when the function has active tracing ("Lambda runs
 * the daemon automatically", Lambda developer guide, "Visualize Lambda function invocations using
 * AWS X-Ray") and stacks/worker.ts sets for the worker's sidecar. No address: tracing off
 * (NO_TRACER), nothing is built per task. `service` names the process's node on the trace map.
 */
export function awsTracer(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { flushEveryMs?: number; onExportError?: (error: unknown) => void } = {},
): Tracer {
  const address = env.AWS_XRAY_DAEMON_ADDRESS
  if (!address) return NO_TRACER
  return createTracer({ sink: createXRaySpanSink({ address, service }), ...options })
}

/**
 * The Lambda invocation's own trace (its facade segment: `_X_AMZN_TRACE_ID`, which the runtime
 * sets per invocation): the parent of the spans of a message that arrived without a trace header.
 */
export function lambdaTraceContext(env: NodeJS.ProcessEnv = process.env): TraceContext | undefined {
  return parseTraceHeader(env._X_AMZN_TRACE_ID)
}
