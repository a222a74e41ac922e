import type { Timeline } from '../tracing/pg-sink.js'
import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import type { SetLimitOptions } from '../pacing/limit-store.js'
import type { ImportRun, InsertResult } from './contacts-insert.js'
import type { ImportTotals } from './import-stream.js'
import type {
  CampaignInput,
  CampaignMedia,
  CampaignMove,
  CampaignSummary,
  CampaignTransition,
} from './shapes/campaigns.js'
import type { ContactResultsPage, ContactRow, FileImport } from './shapes/contacts.js'
import type { OutcomeCount, Reachability, RunProgress } from './shapes/outcomes.js'
import type { AuditEntry, ControllerInputs, PacingSnapshot } from './shapes/pacing.js'
import type {
  Alarm,
  DlqMessage,
  PipeDescription,
  PipeMetrics,
  PushEntry,
  PushRegistration,
  PushResult,
  QueueDepth,
  RedriveStatus,
} from './shapes/stage.js'

/**
 * What dialctl needs from a stage. One implementation per kind of stage: `aws.ts` (a deployed SST
 * stage: Pipes, SQS, Lambda, CloudWatch + the stage's PostgreSQL/Redis) and `local.ts` (the local
 * stack: PostgreSQL queue and pipe, worker HTTP metrics). Commands only talk to this interface, so
 * one code path serves both stages.
 *
 * Every result type has a zod schema: the commands' `--json` output is exactly these shapes, and
 * the tests validate it against them. The shapes live per area in ./shapes/ and are re-exported
 * here, so importers keep one path.
 */

export * from './shapes/pacing.js'
export * from './shapes/stage.js'
export * from './shapes/campaigns.js'
export * from './shapes/contacts.js'
export * from './shapes/outcomes.js'

/**
 * The data layer every stage shares: pacing state (Redis + pacing_audit), campaigns, contacts and
 * outcomes (PostgreSQL). src/control/data.ts implements it against the stores; on an AWS stage the
 * CLI reaches it through the control Lambda in the VPC (src/control/aws-control-client.ts), which
 * serves it with that same DataPlane.
 */
export interface DataPort {
  pacing(): Promise<PacingSnapshot>
  setLimit(
    limit: number,
    reason: string,
    actor: string,
    source?: string,
    options?: SetLimitOptions,
  ): Promise<AuditEntry & { skipped?: 'held' }>
  /** ends a manual hold (`cps auto --resume`); false when nothing was held */
  resumeAuto(reason: string, actor: string): Promise<boolean>
  limitHistory(limit: number): Promise<AuditEntry[]>

  listCampaigns(): Promise<CampaignSummary[]>
  showCampaign(id: string): Promise<CampaignSummary>
  /** audio URLs and media health of active and paused campaigns (or of `id` only) */
  campaignMedia(windowMinutes: number, id?: string): Promise<CampaignMedia[]>
  transitionCampaign(
    id: string,
    move: CampaignMove,
    reason: string | null,
    actor: string,
  ): Promise<CampaignTransition>
  createCampaign(input: CampaignInput): Promise<CampaignSummary>
  /** with `run`: one step of a file imported over several calls (insertContacts: its refusals of repeated lines) */
  importContacts(campaignId: string, rows: ContactRow[], run?: ImportRun): Promise<InsertResult>
  /** results of one campaign: outcomes, rates with their denominators, donations, opt-outs */
  campaignReport(id: string): Promise<CampaignReport>
  /** every contact's results, in id order, paged (the per-contact export) */
  contactResults(id: string): AsyncIterable<ContactResult>
  /** at most `limit` contacts' results after contact id `after` (null: from the start); `next`: the last id when more may follow */
  contactResultsPage(id: string, after: string | null, limit: number): Promise<ContactResultsPage>
  /** contact rows for tasks about to be pushed (the dial gate dials only existing contacts): created, existing, refused (send none of those) */
  registerPushedContacts(entries: readonly PushEntry[]): Promise<PushRegistration>

  /** what happened to the tasks of one run (contact ids starting with contactPrefix) since `since` */
  runProgress(
    campaignId: string,
    contactPrefix: string,
    since: Date,
    sentAt: Map<string, number>,
  ): Promise<RunProgress>
  /** answered / finished calls of the last `minutes` (the controller's answer-rate input) */
  answerRate(minutes: number): Promise<{ answerRate: number | null; sample: number }>
  /** task outcomes of the last `minutes`, grouped (doctor: enrichment drops, dialer failures) */
  recentOutcomes(minutes: number): Promise<OutcomeCount[]>
  ping(): Promise<Reachability>

  close(): Promise<void>
}

/** What differs per kind of stage: the pipe, the queues and DLQ, test traffic, alarms, the CPU input. */
export interface StagePort {
  describePipe(): Promise<PipeDescription>
  pipeMetrics(windowMinutes: number): Promise<PipeMetrics>
  startPipe(): Promise<PipeDescription>
  stopPipe(): Promise<PipeDescription>

  queueDepth(): Promise<QueueDepth>
  dlqDepth(): Promise<QueueDepth>
  /** looks without consuming or reordering */
  dlqList(limit: number): Promise<DlqMessage[]>
  dlqRedrive(options: { maxPerSecond?: number }): Promise<RedriveStatus>
  dlqRedriveStatus(): Promise<RedriveStatus | undefined>
  dlqPurge(): Promise<number>

  pushTasks(entries: PushEntry[]): Promise<PushResult>
  controllerInputs(): Promise<ControllerInputs>
  alarms(): Promise<Alarm[]>
}

/**
 * What dialctl needs from a stage: the shared data layer plus the stage-specific part. Commands
 * only talk to this interface, so one code path serves every stage.
 */
export interface ControlPlane
  extends Omit<DataPort, 'answerRate' | 'registerPushedContacts' | 'contactResultsPage'>, StagePort {
  readonly stage: string
  /**
   * The recorded spans of the task that became call `callId` (issue #19), where the stage keeps
   * them: the local stack's trace_spans table. Absent on AWS stages, whose spans are in X-Ray.
   */
  traceTimeline?(callId: string): Promise<Timeline>
  readonly kind: 'local' | 'aws'
  /** where the dialers POST /dial (the stage's worker), when known: health names it */
  readonly workerUrl?: string
  /**
   * `contacts import`: the file streamed through importCsvStream, valid rows saved chunk by chunk;
   * on an AWS stage a large file is uploaded to the stage bucket and imported by the control function.
   */
  importContactsFile(file: FileImport): Promise<ImportTotals>
}

/** The calls the adaptive controller makes (`cps auto`, the pacer Lambda). */
export type ControllerPort = Pick<ControlPlane, 'controllerInputs' | 'pacing' | 'setLimit' | 'limitHistory'>
