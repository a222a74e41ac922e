import { z } from 'zod'

/** The campaign shapes of the control port (port.ts): summaries, media health, lifecycle moves. */

export const CONTACT_STATES = ['pending', 'queued', 'dialing', 'done', 'failed'] as const
export const ContactsByState = z.object({
  pending: z.number().int(),
  queued: z.number().int(),
  dialing: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
})
export type ContactsByState = z.infer<typeof ContactsByState>

/** `campaign show`: src/campaigns/stats.ts's figures, dates as ISO strings, plus the test flag. */
export const CampaignSummary = z.object({
  campaignId: z.string(),
  name: z.string(),
  status: z.string(),
  isTest: z.boolean(),
  /** the config's `autoComplete: true` (`campaign start` and push's advice need it); false from older control Lambdas */
  autoComplete: z.boolean().default(false),
  timezone: z.string(),
  contacts: ContactsByState.extend({ total: z.number().int() }),
  attempts: z.number().int(),
  /** dials that ended: the answer rate's denominator */
  finishedDials: z.number().int(),
  /** dials a human answered; AMD's machines are counted apart (`machines`) */
  answered: z.number().int(),
  /** human answers / finishedDials; null before any finished */
  answerRate: z.number().nullable(),
  /** dials AMD classified as an answering machine (absent from older control Lambdas) */
  machines: z.number().int().default(0),
  machineRate: z.number().nullable().default(null),
  /** every contact is done or failed; the campaign stays open to imports until completed */
  allContactsFinished: z.boolean(),
  /** `campaign show` only: the zones the window is judged in (callee rule, issue #11), most contacts first */
  calleeZones: z.array(z.object({ zones: z.string(), contacts: z.number().int() })).optional(),
  /** `campaign show` only: the config's calling windows (push says when a closed window opens) */
  callingWindows: z
    .array(
      z.object({
        dayOfWeek: z.array(z.number().int()),
        startHour: z.number().int(),
        endHour: z.number().int(),
      }),
    )
    .optional(),
  donations: z.number().int(),
  blacklisted: z.number().int(),
  windowOpen: z.boolean(),
  nextWindowOpening: z.string().nullable(),
  pace: z.object({
    cpsLimit: z.number(),
    maxConcurrentCalls: z.number(),
    avgCallSeconds: z.number(),
    concurrencyRate: z.number(),
    observedRate: z.number().nullable(),
    /** the span observedRate is measured over (s); default null for older control Lambdas */
    observedSeconds: z.number().nullable().default(null),
    rate: z.number(),
    rateSource: z.enum(['observed', 'configured']),
  }),
  remainingAttempts: z.object({ min: z.number().int(), max: z.number().int() }),
  etaSeconds: z.number().nullable(),
  etaWorstSeconds: z.number().nullable(),
})
export type CampaignSummary = z.infer<typeof CampaignSummary>

/**
 * A campaign's audio, for doctor and `campaign start`: the URLs its config names and how they
 * fared on calls (src/telephony/media-health.ts), plus the media guard's last pause.
 */
export const CampaignMedia = z.object({
  campaignId: z.string(),
  status: z.string(),
  /** a test campaign (`campaign create --test`): it dials reserved fictional numbers only */
  isTest: z.boolean().optional(),
  audioUrls: z.array(z.string()),
  /** calls picked up and media failures over the last `windowMinutes` */
  windowMinutes: z.number(),
  pickedUp: z.number().int(),
  mediaFailures: z.number().int(),
  /** the latest move by the media guard (actor media-guard), if any */
  guardPause: z.object({ at: z.string(), reason: z.string().nullable() }).nullable(),
})
export type CampaignMedia = z.infer<typeof CampaignMedia>

export type CampaignMove = 'start' | 'pause' | 'resume' | 'complete' | 'cancel'

export const CampaignTransition = z.object({
  id: z.string(),
  from: z.string(),
  to: z.string(),
  at: z.string(),
  reason: z.string().nullable(),
  actor: z.string(),
  /** false: the campaign was already in the state asked for (nothing moved, nothing recorded) */
  changed: z.boolean().default(true), // a control API from before this field moved always
})
export type CampaignTransition = z.infer<typeof CampaignTransition>

export interface CampaignInput {
  campaign: unknown
  isTest?: boolean
  actor: string
}
