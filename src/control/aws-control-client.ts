import type { SetLimitOptions } from '../pacing/limit-store.js'
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import type { STSClient } from '@aws-sdk/client-sts'
import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { errorMessage, OperatorError } from '../errors.js'
import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import { CampaignReportSchema, ContactResultsPageSchema } from './report-schema.js'

import { presignCallerProof } from './caller-presign.js'
import { ControlResponse, type ControlOp } from './control-api.js'
import { ObjectImportStep, RESULTS_PAGE_MAX } from './control-ops.js'
import { IMPORT_CHUNK_ROWS } from './contact-row.js'
import type { ContactImportPort } from './contacts-import-object.js'
import {
  AuditEntry,
  CampaignMedia,
  CampaignSummary,
  CampaignTransition,
  ImportResult,
  OutcomeCount,
  PacingSnapshot,
  Reachability,
  RunProgress,
  type CampaignInput,
  type CampaignMove,
  type ContactResultsPage,
  type ContactRow,
  type DataPort,
  type PushEntry,
  PushRegistration,
} from './port.js'

/**
 * Contact results per Invoke of `campaign.contactResults`. Lambda's synchronous response is at
 * most 6 MB (Lambda quotas, "Invocation payload (request and response)"); a result is bounded —
 * id ≤ 200 characters (SafeId), masked phone, state, counts, a timestamp and the callee zones
 * (a few zone names) — at under 1.5 KB even at the worst, so 2,000 rows stay below 3 MB.
 */
export const RESULTS_PAGE_ROWS = RESULTS_PAGE_MAX

/**
 * How long the CLI waits for one answer of the control function: its calls are store queries and
 * 2,000-row chunks (seconds), bounded well above them so a lost answer is an error, not a hang.
 */
export const CONTROL_INVOKE_TIMEOUT_MS = 5 * 60_000
/** An import step runs until the function's timeout (Lambda's maximum, 15 minutes) is near: that, plus a minute. */
export const IMPORT_STEP_INVOKE_TIMEOUT_MS = 16 * 60_000

const ImportCounts = ImportResult.omit({ invalid: true })
const AnswerRate = z.object({ answerRate: z.number().nullable(), sample: z.number().int() })

/**
 * The data layer of an AWS stage, reached through its control Lambda (functions/control.ts) with
 * the operator's AWS credentials alone: no tunnel, no database password. Each call is one
 * `lambda:Invoke` (IAM authorises it, CloudTrail records it) carrying a fresh presigned
 * sts:GetCallerIdentity (src/control/caller-presign.ts): the function asks STS who signed it and
 * records that ARN in the audit trails — the CLI's word is never taken for it.
 */
export class LambdaDataPort implements DataPort {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly sts: STSClient,
    private readonly functionName: string,
    private readonly stage: string,
  ) {}

  private async call<T>(
    op: ControlOp,
    args: unknown[],
    schema: z.ZodType<T>,
    timeoutMs = CONTROL_INVOKE_TIMEOUT_MS,
  ): Promise<T> {
    const proof = await presignCallerProof(this.sts, this.stage)
    const out = await this.lambda
      .send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify({ op, args, proof })),
        }),
        { abortSignal: AbortSignal.timeout(timeoutMs) },
      )
      .catch((error: unknown) => {
        if ((error as { name?: unknown }).name !== 'TimeoutError' && !/abort/i.test(errorMessage(error)))
          throw error
        throw new OperatorError(
          `The control function ${this.functionName} did not answer ${op} within ${Math.round(timeoutMs / 1000)} s.`,
          `See its log group (/aws/lambda/${this.functionName}) in CloudWatch Logs; \`dialctl doctor --stage ${this.stage}\` checks the stores.`,
          1,
          'CONTROL_TIMEOUT',
        )
      })
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : ''
    if (out.FunctionError) {
      const detail = (() => {
        try {
          return String((JSON.parse(text) as { errorMessage?: unknown }).errorMessage ?? text)
        } catch {
          return text
        }
      })()
      throw new OperatorError(
        `The control function ${this.functionName} failed (${out.FunctionError}): ${detail.slice(0, 300)}`,
        `See its log group (/aws/lambda/${this.functionName}) in CloudWatch Logs; \`dialctl doctor --stage <stage>\` checks the stores.`,
        1,
        'CONTROL_FUNCTION',
      )
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    const response = ControlResponse.safeParse(json)
    if (!response.success)
      throw new OperatorError(
        `The control function ${this.functionName} answered ${op} with something dialctl does not understand.`,
        'Use the dialctl version the stage was deployed from, or redeploy the stage with this one.',
        1,
        'CONTROL_PROTOCOL',
      )
    if (!response.data.ok) {
      const e = response.data.error
      throw new OperatorError(e.message, e.suggestion, e.exitCode, e.code)
    }
    const result = schema.safeParse(response.data.result)
    if (!result.success)
      throw new OperatorError(
        `The control function's answer to ${op} is invalid (${describeZodError(result.error)}).`,
        'Use the dialctl version the stage was deployed from, or redeploy the stage with this one.',
        1,
        'CONTROL_PROTOCOL',
      )
    return result.data
  }

  pacing(): Promise<PacingSnapshot> {
    return this.call('pacing.get', [], PacingSnapshot)
  }
  /** `actor` is not sent: the function records the caller's IAM identity instead. */
  setLimit(
    limit: number,
    reason: string,
    _actor: string,
    source = 'cli',
    options?: SetLimitOptions,
  ): Promise<AuditEntry & { skipped?: 'held' }> {
    return this.call(
      'pacing.set',
      [limit, reason, 'iam', source, ...(options ? [options] : [])],
      AuditEntry.extend({ skipped: z.literal('held').optional() }),
    )
  }
  resumeAuto(reason: string, _actor: string): Promise<boolean> {
    return this.call('pacing.resume', [reason], z.boolean())
  }
  limitHistory(limit: number): Promise<AuditEntry[]> {
    return this.call('pacing.history', [limit], z.array(AuditEntry))
  }
  listCampaigns(): Promise<CampaignSummary[]> {
    return this.call('campaign.list', [], z.array(CampaignSummary))
  }
  showCampaign(id: string): Promise<CampaignSummary> {
    return this.call('campaign.show', [id], CampaignSummary)
  }
  campaignMedia(windowMinutes: number, id?: string): Promise<CampaignMedia[]> {
    return this.call(
      'campaign.media',
      id === undefined ? [windowMinutes] : [windowMinutes, id],
      z.array(CampaignMedia),
    )
  }
  transitionCampaign(
    id: string,
    move: CampaignMove,
    reason: string | null,
    _actor: string,
  ): Promise<CampaignTransition> {
    return this.call('campaign.transition', [id, move, reason, 'iam'], CampaignTransition)
  }
  createCampaign(input: CampaignInput): Promise<CampaignSummary> {
    return this.call('campaign.create', [{ ...input, actor: 'iam' }], CampaignSummary)
  }
  campaignReport(id: string): Promise<CampaignReport> {
    return this.call('campaign.report', [id], CampaignReportSchema)
  }
  contactResultsPage(id: string, after: string | null, limit: number): Promise<ContactResultsPage> {
    return this.call('campaign.contactResults', [id, after, limit], ContactResultsPageSchema)
  }
  /** Page by page (one Invoke each, RESULTS_PAGE_ROWS), never more than a page in memory. */
  async *contactResults(id: string): AsyncIterable<ContactResult> {
    let after: string | null = null
    do {
      const page = await this.contactResultsPage(id, after, RESULTS_PAGE_ROWS)
      yield* page.rows
      after = page.next
    } while (after !== null)
  }
  /**
   * One step of importing a file already in the stage's upload bucket (one Invoke, up to the
   * function's 15 minutes): the totals, or the continuation to send back for the next step.
   */
  readonly importContactsObject: ContactImportPort['importContactsObject'] = (...args) =>
    this.call('contacts.importObject', args, ObjectImportStep, IMPORT_STEP_INVOKE_TIMEOUT_MS)

  /** In chunks of IMPORT_CHUNK_ROWS (one Invoke each); the counts and lists add up. */
  async importContacts(campaignId: string, rows: ContactRow[]): Promise<Omit<ImportResult, 'invalid'>> {
    const total: Omit<ImportResult, 'invalid'> = { campaignId, imported: 0, duplicates: 0, blacklisted: [] }
    for (let i = 0; i < rows.length || i === 0; i += IMPORT_CHUNK_ROWS) {
      const part = await this.call(
        'contacts.import',
        [campaignId, rows.slice(i, i + IMPORT_CHUNK_ROWS)],
        ImportCounts,
      )
      total.imported += part.imported
      total.duplicates += part.duplicates
      total.blacklisted.push(...part.blacklisted)
    }
    return total
  }
  registerPushedContacts(entries: readonly PushEntry[]): Promise<PushRegistration> {
    return this.call('contacts.registerPushed', [entries], PushRegistration)
  }
  runProgress(
    campaignId: string,
    contactPrefix: string,
    since: Date,
    sentAt: Map<string, number>,
  ): Promise<RunProgress> {
    return this.call(
      'run.progress',
      [campaignId, contactPrefix, since.toISOString(), [...sentAt]],
      RunProgress,
    )
  }
  answerRate(minutes: number): Promise<{ answerRate: number | null; sample: number }> {
    return this.call('outcomes.answerRate', [minutes], AnswerRate)
  }
  recentOutcomes(minutes: number): Promise<OutcomeCount[]> {
    return this.call('outcomes.recent', [minutes], z.array(OutcomeCount))
  }
  ping(): Promise<Reachability> {
    return this.call('stores.ping', [], Reachability)
  }
  async close(): Promise<void> {
    // The SDK clients belong to the control plane, which destroys them.
  }
}
