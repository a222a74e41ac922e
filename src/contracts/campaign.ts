import { z } from 'zod'
import { campaignConfigSizeProblem } from '../tasks/limits.js'
import { IvrFlow } from './ivr.js'

export const CallingWindow = z
  .object({
    /** 0 = Sunday … 6 = Saturday, in the campaign's time zone */
    dayOfWeek: z
      .array(z.number().int().min(0).max(6))
      .min(1)
      .describe("days the window applies, 0 = Sunday … 6 = Saturday, in the callee's local time"),
    startHour: z.number().int().min(0).max(23).describe('first hour calls may start (0–23, inclusive)'),
    /** exclusive; 24 means until midnight */
    endHour: z.number().int().min(1).max(24).describe('hour calls stop (exclusive; 24 = until midnight)'),
  })
  .refine((w) => w.endHour > w.startHour, { message: 'endHour must be after startHour', path: ['endHour'] })
export type CallingWindow = z.infer<typeof CallingWindow>

export const CAMPAIGN_STATUSES = ['draft', 'active', 'paused', 'completed', 'cancelled'] as const
export const CampaignStatus = z.enum(CAMPAIGN_STATUSES)
export type CampaignStatus = z.infer<typeof CampaignStatus>

/**
 * Answering-machine detection (AMD): `off` plays the IVR to whoever answers; `hangup` hangs up on a
 * machine (the contact is retried like a no-answer, within maxAttemptsPerContact); `voicemail`
 * waits for the greeting to end and plays `messageUrl` (contact done once the message played).
 * Detection is Asterisk's AMD() (docs/asterisk.md, "Answering-machine detection").
 */
export const AmdConfig = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('off') }),
  z.object({ mode: z.literal('hangup') }),
  z.object({ mode: z.literal('voicemail'), messageUrl: z.string().min(1) }),
])
export type AmdConfig = z.infer<typeof AmdConfig>

export const CampaignConfig = z
  .object({
    audioFileUrl: z.string().min(1).describe('the recording played when the callee answers (URL)'),
    ivrFlow: IvrFlow,
    callingWindows: z
      .array(CallingWindow)
      .min(1)
      .describe("when calls may be placed, in the callee's local time; a call is placed only inside one"),
    maxConcurrentCalls: z
      .number()
      .int()
      .positive()
      .describe('calls of this campaign in progress at once, at most'),
    maxAttemptsPerContact: z
      .number()
      .int()
      .positive()
      .describe('dials per contact, at most (the first dial and its retries after no-answer or busy)'),
    /** minutes before a contact is tried again after no-answer / busy (additive to the seed) */
    retryDelayMinutes: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('minutes before a retry after no-answer or busy'),
    /** caller ID presented on the trunk (additive) */
    callerId: z.string().optional().describe('caller ID presented on the trunk, E.164'),
    /**
     * Complete the campaign by itself once every contact is done or failed (additive). Off by
     * default: running out of contacts is not the end, an operator may import more; a campaign that
     * is finished stays active (reported as "all contacts finished") until `dialctl campaign complete`.
     */
    autoComplete: z
      .boolean()
      .optional()
      .describe(
        'true: complete the campaign once every contact is done or failed. Default false: it stays active, open to more contacts, until `dialctl campaign complete ID`',
      ),
    /** answering-machine detection; absent = off (additive) */
    amd: AmdConfig.optional().describe(
      'answering-machine detection: {"mode":"off"} (default), {"mode":"hangup"} or {"mode":"voicemail","messageUrl":"https://…/message-8khz.wav"} (docs/asterisk.md)',
    ),
  })
  // Every dial command carries the config: bounded so a task within its own limit always fits the
  // worker's body limit (src/tasks/limits.ts). Checked wherever a config enters: a campaign file,
  // the control API, a stored row read back.
  .superRefine((config, ctx) => {
    const problem = campaignConfigSizeProblem(config)
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [] })
  })
export type CampaignConfig = z.infer<typeof CampaignConfig>

// Zones found valid: building an Intl.DateTimeFormat was 59–83 µs of a 105–176 µs campaign parse,
// and every task's campaign is parsed. Only valid zones are kept (a few hundred exist), so bad
// input cannot grow the set.
const validZones = new Set<string>()

/** true when `tz` names a time zone this runtime's ICU knows (IANA, e.g. Asia/Jerusalem). */
export function isValidTimeZone(tz: string): boolean {
  if (validZones.has(tz)) return true
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
  } catch {
    return false
  }
  validZones.add(tz)
  return true
}

export const IanaTimeZone = z
  .string()
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Asia/Jerusalem' })

export const Campaign = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  type: z.literal('voice'),
  status: CampaignStatus,
  config: CampaignConfig,
  timezone: IanaTimeZone,
})
export type Campaign = z.infer<typeof Campaign>

/**
 * A campaign file (`dialctl campaign create FILE`): the campaign without its status (a new
 * campaign is a draft) and with `type` optional (only "voice" exists). `$schema` lets an editor
 * find the JSON Schema (`dialctl campaign schema`); it is ignored when saving. The files may be
 * JSON with comments (JSONC): see src/campaigns/campaign-file.ts.
 */
export const CampaignFile = z
  .object({
    $schema: z
      .string()
      .optional()
      .describe('where an editor finds this schema, e.g. "./campaign.schema.json"'),
    // every dial task carries the campaign id, and a task's ids are SafeIds (messages.ts): a longer
    // id or a control character would make every contact of the campaign a refused task (issue #15)
    id: Campaign.shape.id
      .max(200)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters')
      .describe('unique id, used by every command (dialctl campaign show ID); at most 200 characters'),
    name: Campaign.shape.name.describe('human-readable name'),
    type: z.literal('voice').optional().describe('only "voice" exists; may be left out'),
    timezone: IanaTimeZone.describe(
      'IANA zone for calling windows when a contact has no zone of its own, e.g. "Asia/Jerusalem"',
    ),
    config: CampaignConfig,
  })
  .describe('A dialctl campaign: dialctl campaign create FILE saves it as a draft')
export type CampaignFile = z.infer<typeof CampaignFile>

/** The JSON Schema (draft 2020-12) of a campaign file, generated from the zod schema above. */
export function campaignFileJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(CampaignFile, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://dialctl.dev/schemas/campaign.schema.json',
    title: 'dialctl campaign file',
  }
}
