import type pg from 'pg'
import { OperatorError } from '../errors.js'

/**
 * The campaign modules (zod contracts, IVR validation, lifecycle, CSV, report), loaded on first
 * use: a Redis-only command such as `cps get` does not pay for them at start-up (issue #16: within
 * 2× a bare Node process reading the same keys; measured in test/bench/cli.bench.ts).
 */
export async function campaignModules() {
  const [stats, lifecycle, validate, contactsImport, repository, report] = await Promise.all([
    import('../campaigns/stats.js'),
    import('../campaigns/lifecycle.js'),
    import('../ivr/validate.js'),
    import('./contacts-import.js'),
    import('../campaigns/repository.js'),
    import('../campaigns/report.js'),
  ])
  return { ...stats, ...lifecycle, ...validate, ...contactsImport, ...repository, ...report }
}

/** What each area of the data layer (data-campaigns, data-contacts, data-outcomes) reads. */
export interface DataContext {
  pool: pg.Pool
  now: () => Date
}

/**
 * Runs `fn`, turning the campaign modules' domain errors (unknown campaign, refused transition)
 * into the operator errors the CLI prints; anything else stays what it is.
 */
export async function asOperatorErrors<T>(fn: () => Promise<T>): Promise<T> {
  const { CampaignNotFoundError, CampaignTransitionError } = await campaignModules()
  try {
    return await fn()
  } catch (error) {
    if (error instanceof CampaignNotFoundError)
      throw new OperatorError(error.message, error.suggestion, 1, 'CAMPAIGN_NOT_FOUND')
    if (error instanceof CampaignTransitionError)
      throw new OperatorError(error.message, error.suggestion, 1, error.code)
    throw error
  }
}
