import type pg from 'pg'
import type { Logger } from '../observability/logger.js'
import type { QueuePort } from '../queue/port.js'
import type { DispatchCampaign } from './campaigns.js'

/** What one dispatcher run is given (dispatchOnce) and shares between its phases. */

export interface DispatchLimits {
  /** the live CPS limit (the pacing limit store in Redis; MAX_CPS when it holds none) */
  getLimit(): Promise<number>
  /** seconds of dialing the queue may hold ahead of the dialer; default 10 */
  horizonSeconds?: number
  /** at most this many contacts per campaign per run; default 10,000 */
  maxPerRun?: number
  /** wait suggested while work remains (eligible now or calls in flight); default 5 s */
  pollSeconds?: number
  /** longest wait suggested (closed window, retries due later); default 300 s */
  maxWaitSeconds?: number
  /** SendMessageBatch calls in flight at once; default 4 */
  sendConcurrency?: number
}

export const DEFAULT_HORIZON_SECONDS = 10
export const DEFAULT_MAX_PER_RUN = 10_000
export const DEFAULT_POLL_SECONDS = 5
export const DEFAULT_MAX_WAIT_SECONDS = 300

export interface DispatchOptions {
  db: pg.Pool
  queue: QueuePort
  limits: DispatchLimits
  now?: Date
  logger?: Logger
  /** only this campaign (Step Functions runs one execution per campaign); else every active one */
  campaignId?: string
  /**
   * false: never complete a campaign here. Otherwise an active campaign whose config says
   * `autoComplete: true` moves to completed once every contact is done or failed; without it the
   * campaign stays active (open to imports and pushes) until an operator completes it.
   */
  autoComplete?: boolean
}

/** One run's figures, shared by every campaign of it. */
export interface RunContext {
  now: Date
  cpsLimit: number
  horizon: number
  budget: number
}

export type CampaignConfig = NonNullable<DispatchCampaign['config']>
