import { Logger } from '@aws-lambda-powertools/logger'
import { maskPhonesIn } from './mask.js'

/**
 * Structured JSON logs (Powertools Logger) in the seed's shape, with a `component` key.
 * The JSON replacer masks phone numbers in every string of every log line, so a careless
 * `logger.info(\`dialing ${phone}\`)` still cannot leak a number.
 */
export function createLogger(component: string, options: { level?: string } = {}): Logger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'dialctl',
    logLevel: (options.level ??
      process.env.POWERTOOLS_LOG_LEVEL ??
      process.env.LOG_LEVEL ??
      'INFO') as 'INFO',
    persistentKeys: { component },
    jsonReplacerFn: (_key: string, value: unknown) =>
      typeof value === 'string' ? maskPhonesIn(value) : value,
  })
}

export type { Logger }
