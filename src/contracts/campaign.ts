import { z } from 'zod'
import { IvrFlow } from './ivr.js'

export const CallingWindow = z
  .object({
    /** 0 = Sunday … 6 = Saturday, in the campaign's time zone */
    dayOfWeek: z.array(z.number().int().min(0).max(6)).min(1),
    startHour: z.number().int().min(0).max(23),
    /** exclusive; 24 means until midnight */
    endHour: z.number().int().min(1).max(24),
  })
  .refine((w) => w.endHour > w.startHour, { message: 'endHour must be after startHour', path: ['endHour'] })
export type CallingWindow = z.infer<typeof CallingWindow>

export const CAMPAIGN_STATUSES = ['draft', 'active', 'paused', 'completed', 'cancelled'] as const
export const CampaignStatus = z.enum(CAMPAIGN_STATUSES)
export type CampaignStatus = z.infer<typeof CampaignStatus>

export const CampaignConfig = z.object({
  audioFileUrl: z.string().min(1),
  ivrFlow: IvrFlow,
  callingWindows: z.array(CallingWindow).min(1),
  maxConcurrentCalls: z.number().int().positive(),
  maxAttemptsPerContact: z.number().int().positive(),
  /** minutes before a contact is tried again after no-answer / busy (additive to the seed) */
  retryDelayMinutes: z.number().int().nonnegative().optional(),
  /** caller ID presented on the trunk (additive) */
  callerId: z.string().optional(),
  /**
   * Complete the campaign by itself once every contact is done or failed (additive). Off by
   * default: running out of contacts is not the end, an operator may import more; a campaign that
   * is finished stays active (reported as "all contacts finished") until `dialctl campaign complete`.
   */
  autoComplete: z.boolean().optional(),
})
export type CampaignConfig = z.infer<typeof CampaignConfig>

export const IanaTimeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz })
      return true
    } catch {
      return false
    }
  },
  { message: 'must be an IANA time zone such as Asia/Jerusalem' },
)

export const Campaign = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  type: z.literal('voice'),
  status: CampaignStatus,
  config: CampaignConfig,
  timezone: IanaTimeZone,
})
export type Campaign = z.infer<typeof Campaign>
