import { Metrics } from '@aws-lambda-powertools/metrics'
import type { Context } from 'aws-lambda'
import { createLogger, type Logger } from '../observability/logger.js'
import { metricNamespace, type Service } from '../observability/metrics.js'
import { lambdaStage } from './links.js'
import { awsTracer } from '../tracing/aws.js'
import type { Tracer } from '../tracing/tracer.js'

/**
 * The one shape of a Lambda entry (functions/*.ts):
 *   const rt = lambdaRuntime(SERVICE.x)            // module scope: logger, metrics, tracer, stage
 *   const clients = …                              // module scope: reused while warm
 *   export const handler = rt.wrap(async (event) => …)
 * `wrap` adds the Lambda context to the logger, and publishes the metrics and sends the spans in
 * `finally` so a failed invocation still reports what it counted and traced. The tracer is on
 * when the function has X-Ray active tracing (src/tracing/aws.ts), else NO_TRACER.
 */
export interface LambdaRuntime {
  stage: string
  service: Service
  logger: Logger
  metrics: Metrics
  tracer: Tracer
  wrap<A extends [event?: unknown, context?: Context], R>(
    fn: (...args: A) => Promise<R>,
  ): (...args: A) => Promise<R>
}

export function lambdaRuntime(service: Service, env: NodeJS.ProcessEnv = process.env): LambdaRuntime {
  const stage = lambdaStage(env)
  const logger = createLogger(service)
  // The namespace given here wins over POWERTOOLS_METRICS_NAMESPACE: one rule (the registry's).
  const metrics = new Metrics({ namespace: metricNamespace(stage), serviceName: service })
  const tracer = awsTracer(`dialctl-${stage}-${service}`, env, {
    onExportError: (error) => logger.warn('spans not sent to the X-Ray daemon', { error: String(error) }),
  })
  return {
    stage,
    service,
    logger,
    metrics,
    tracer,
    wrap:
      (fn) =>
      async (...args) => {
        const context = args[1]
        if (context) logger.addContext(context)
        try {
          return await fn(...args)
        } finally {
          if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics()
          await tracer.flush()
        }
      },
  }
}
