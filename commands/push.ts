import { Flags } from '@oclif/core'
import { ExitCode } from '../src/exit-codes.js'
import { ControlCommand } from '../src/cli/control-command.js'
import { notAcceptingTasksError } from '../src/campaigns/lifecycle.js'
import { IanaTimeZone, MAX_TASK_ATTEMPTS, type CampaignStatus } from '../src/contracts/index.js'
import { OperatorError, usageError } from '../src/errors.js'
import { maskPhone } from '../src/observability/mask.js'
import { buildDialTask } from '../src/tasks/build-task.js'
import { pushWindow, type PushWindow } from '../src/tasks/push-window.js'
import { zonedTime } from '../src/cli/render.js'

export interface PushOutput {
  messageId: string
  campaignId: string
  contactId: string
  phoneNumber: string
  stage: string
  /** when the callee's calling window opens (absent when the stage did not send the campaign's windows) */
  window?: PushWindow
}

export default class Push extends ControlCommand<typeof Push> {
  static override summary = 'Send one dial task to the dial-tasks queue'
  static override description = `Builds a DialTask (validated: E.164 phone, campaign, contact) and sends it to the stage's dial-tasks queue (SQS SendMessage on AWS, the local queue with --stage local). With the local stack running, the call's outcome appears in its log and in call_attempts.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --campaign demo --phone +12125550100',
    '<%= config.bin %> <%= command.id %> --campaign campaign-123 --phone +972501234567 --contact contact-456 --metadata firstName=John --metadata lastName=Doe',
    '<%= config.bin %> <%= command.id %> --stage prod --campaign campaign-123 --phone +972501234567 --json',
    '<%= config.bin %> <%= command.id %> --campaign demo --phone +18085550100 --timezone Pacific/Honolulu',
  ]
  static override flags = {
    campaign: Flags.string({ description: 'campaign id', required: true }),
    phone: Flags.string({ description: 'phone number in E.164, e.g. +972501234567', required: true }),
    contact: Flags.string({ description: 'contact id (default: a generated push-… id)' }),
    metadata: Flags.string({
      description: 'key=value added to the task metadata (repeatable)',
      multiple: true,
    }),
    attempts: Flags.integer({
      description: 'attempts made so far (the task attempt number)',
      default: 0,
      min: 0,
      max: MAX_TASK_ATTEMPTS,
    }),
    timezone: Flags.string({
      description:
        "the callee's IANA time zone, e.g. Pacific/Honolulu (default: the zones of the number, else the campaign's)",
    }),
  }

  async run(): Promise<PushOutput> {
    const { flags } = this
    const task = buildDialTask({
      campaignId: flags.campaign,
      phoneNumber: flags.phone,
      attempts: flags.attempts,
      ...(flags.contact ? { contactId: flags.contact } : {}),
      ...(flags.metadata ? { metadata: flags.metadata } : {}),
    })
    if (flags.timezone !== undefined && !IanaTimeZone.safeParse(flags.timezone).success)
      throw usageError(
        `--timezone "${flags.timezone}" is not an IANA time zone.`,
        'Use a zone name such as --timezone America/New_York.',
      )
    const plane = await this.control(ExitCode.Error)
    // The queue takes any task; enrich later drops one whose campaign is missing or not active.
    // Say so now, with the command that fixes it, instead of "Sent" for a task that goes nowhere.
    const campaign = await plane.showCampaign(task.campaignId).catch((error: OperatorError) => {
      if (error.code === 'CAMPAIGN_NOT_FOUND')
        throw new OperatorError(
          `Campaign ${task.campaignId} does not exist on stage ${plane.stage}; nothing was sent.`,
          'List the campaigns with `dialctl campaign list`, or create it with `dialctl campaign create --file …`.',
          1,
          'CAMPAIGN_NOT_FOUND',
        )
      throw error
    })
    const refusal = notAcceptingTasksError(task.campaignId, campaign.status as CampaignStatus, {
      hasContacts: campaign.contacts.total > 0,
      isTest: campaign.isTest,
      autoComplete: campaign.autoComplete,
    })
    if (refusal) throw new OperatorError(refusal.message, refusal.suggestion, 1, refusal.code)
    const result = await plane.pushTasks([
      { id: '0', task, ...(flags.timezone ? { timezone: flags.timezone } : {}) },
    ])
    const failure = result.failed[0]
    // refused by the stage before sending (a conflicting contact, …): its own code, advice and exit code
    if (failure?.suggestion !== undefined)
      throw new OperatorError(failure.message, failure.suggestion, failure.exitCode ?? 1, failure.code)
    if (failure || !result.sent[0]) {
      throw new OperatorError(
        `The queue refused the task: ${failure?.code ?? 'unknown'} ${failure?.message ?? ''}`.trim(),
        'Check the queue with `dialctl status`; on AWS, check your credentials and the queue policy.',
      )
    }
    const window = pushWindow(campaign, task.phoneNumber, flags.timezone, new Date())
    const out: PushOutput = {
      messageId: result.sent[0].messageId,
      campaignId: task.campaignId,
      contactId: task.contactId,
      phoneNumber: maskPhone(task.phoneNumber),
      stage: this.flags.stage,
      ...(window ? { window } : {}),
    }
    this.log(
      `Sent dial task ${out.messageId} (campaign ${out.campaignId}, contact ${out.contactId}, ${out.phoneNumber}) to stage ${out.stage}.`,
    )
    if (window && !window.open) this.log(windowLine(window))
    return out
  }
}

/** A closed window, as the operator reads it: when it opens for the callee, in their zone and the campaign's. */
function windowLine(w: PushWindow): string {
  const zones = `${w.calleeZones.join('+')}, from the ${w.zoneSource === 'contact' ? '--timezone flag' : w.zoneSource === 'number' ? "number's prefix" : "campaign's zone"}`
  if (w.never || !w.opensAt)
    return `The calling window is closed for this callee (${zones}) and opens in none of their zones within 8 days: it will not be dialed. Give the contact one zone: --timezone <IANA zone>.`
  const callee = w.calleeZones.length === 1 ? w.calleeZones[0]! : w.campaignTimezone
  const local = zonedTime(w.opensAt, callee)
  const campaign =
    callee === w.campaignTimezone
      ? ''
      : `; campaign time ${zonedTime(w.opensAt, w.campaignTimezone).replace(/ \(.*\)$/, '')}`
  return `The calling window is closed for this callee (${zones}): accepted, it will be dialed when it opens, ${local}${campaign}.`
}
