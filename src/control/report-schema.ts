import { z } from 'zod'
import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import { CampaignStatus } from '../contracts/campaign.js'
import type { ContactResultsPage } from './port.js'

/**
 * `campaign report`'s shapes (src/campaigns/report.ts) as zod schemas: what the CLI accepts from
 * the control function before printing or exporting it.
 */
const Share = z.object({ count: z.number(), of: z.number(), rate: z.number().nullable() })
const Counts = z.record(z.string(), z.number())

export const CampaignReportSchema: z.ZodType<CampaignReport> = z.object({
  campaignId: z.string(),
  name: z.string(),
  status: CampaignStatus,
  timezone: z.string(),
  generatedAt: z.string(),
  contacts: z.object({ total: z.number(), byState: Counts }),
  dials: z.object({ total: z.number(), finished: z.number(), byOutcome: Counts }),
  answerRate: Share,
  contactsReached: Share,
  donations: Share,
  optOuts: Share,
  attemptsPerContact: z.object({ mean: z.number().nullable(), histogram: Counts }),
})

export const ContactResultSchema: z.ZodType<ContactResult> = z.object({
  contactId: z.string(),
  phone: z.string(),
  state: z.string(),
  attempts: z.number().int(),
  lastOutcome: z.string().nullable(),
  answered: z.boolean(),
  donated: z.boolean(),
  optedOut: z.boolean(),
  lastCallAt: z.string().nullable(),
  calleeZones: z.string(),
})

export const ContactResultsPageSchema: z.ZodType<ContactResultsPage> = z.object({
  rows: z.array(ContactResultSchema),
  next: z.string().nullable(),
})
