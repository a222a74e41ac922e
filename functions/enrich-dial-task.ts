import { Metrics } from '@aws-lambda-powertools/metrics'
import type { Context } from 'aws-lambda'
import { createPool, pgSettingsFromEnv } from '../src/db/pool.js'
import { createEnricher } from '../src/enrich/enrich-batch.js'
import type { EnrichedDialTask } from '../src/contracts/index.js'
import { createLogger } from '../src/observability/logger.js'
import { METRIC_NAMESPACE, MetricName } from '../src/observability/metrics.js'
import { asError } from '../src/errors.js'

/**
 * EventBridge Pipes enrichment: SQS records in, enriched dial tasks out (`[]` skips the target).
 * Logger, metrics and the pool (max 10, from PGHOST… parts or DATABASE_URL) live at module scope, so a warm
 * Lambda reuses its connections across invocations instead of reconnecting per batch.
 */
const logger = createLogger('enrich-dial-task')
const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: 'enrich-dial-task' })
const pool = createPool(pgSettingsFromEnv(), { max: 10 })
const enrich = createEnricher({ db: pool, logger, metrics })

export async function handler(event: unknown, context?: Context): Promise<EnrichedDialTask[]> {
  if (context) logger.addContext(context)
  try {
    return await enrich(event)
  } catch (error) {
    // Thrown on purpose (database unreachable, not a batch): the pipe retries, nothing is lost.
    metrics.addMetric(MetricName.EnrichLambdaErrors, 'Count', 1)
    logger.error('enrich batch failed; the pipe will retry it', asError(error))
    throw error
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics()
  }
}
