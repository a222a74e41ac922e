/**
 * EventBridge Pipes enrichment: SQS records in, enriched dial tasks out (`[]` skips the target).
 * Logger, metrics and the pool (max 10, PostgreSQL from the `Postgres` link) live at module scope,
 * so a warm Lambda reuses its connections across invocations instead of reconnecting per batch.
 */
import type { Context, SQSRecord } from 'aws-lambda'
import type { EnrichedDialTask } from '../src/contracts/index.js'
import { createPool } from '../src/db/pool.js'
import { createEnricher } from '../src/enrich/enrich-batch.js'
import { linkedPostgres } from '../src/lambda/links.js'
import { asError } from '../src/errors.js'
import { lambdaRuntime } from '../src/lambda/runtime.js'
import { lambdaTraceContext } from '../src/tracing/aws.js'
import { MetricName, SERVICE } from '../src/observability/metrics.js'

const rt = lambdaRuntime(SERVICE.enrich)
const pool = createPool(linkedPostgres(), { max: 10 })
// Each task's spans go to its own trace (the message's AWSTraceHeader), else to this invocation's.
const enrich = createEnricher({
  db: pool,
  logger: rt.logger,
  metrics: rt.metrics,
  tracer: rt.tracer,
  traceFallback: lambdaTraceContext,
})

export const handler = rt.wrap(
  async (event: SQSRecord[], _context?: Context): Promise<EnrichedDialTask[]> => {
    try {
      return await enrich(event)
    } catch (error) {
      // Thrown on purpose (database unreachable, not a batch): the pipe retries, nothing is lost.
      rt.metrics.addMetric(MetricName.EnrichLambdaErrors, 'Count', 1)
      rt.logger.error('enrich batch failed; the pipe will retry it', asError(error))
      throw error
    }
  },
)
