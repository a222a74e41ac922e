import type { Timeline } from '../tracing/pg-sink.js'
import { z } from 'zod'
import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import type { DialTask } from '../contracts/index.js'
import type { SetLimitOptions } from '../pacing/limit-store.js'
import type { ContactsCsvOptions } from './contacts-import.js'
import type { ImportTotals } from './import-stream.js'

/**
 * What dialctl needs from a stage. One implementation per kind of stage: `aws.ts` (a deployed SST
 * stage: Pipes, SQS, Lambda, CloudWatch + the stage's PostgreSQL/Redis) and `local.ts` (the local
 * stack: PostgreSQL queue and pipe, worker HTTP metrics). Commands only talk to this interface, so
 * one code path serves both stages.
 *
 * Every result type has a zod schema: the commands' `--json` output is exactly these shapes, and
 * the tests validate it against them.
 */

/** redis = the live copy; postgres = restored from the durable state after Redis lost it; default = MAX_CPS */
export const LimitSource = z.enum(['redis', 'postgres', 'default'])
export type LimitSource = z.infer<typeof LimitSource>

export const LimitInfo = z.object({
  limit: z.number().int().positive(),
  /** redis = set by an operator or the controller; default = MAX_CPS, Redis holds none */
  source: LimitSource,
  defaultLimit: z.number().int().positive(),
})
export type LimitInfo = z.infer<typeof LimitInfo>

export const AuditEntry = z.object({
  at: z.string(),
  actor: z.string(),
  source: z.string(),
  oldLimit: z.number().int().nullable(),
  newLimit: z.number().int(),
  reason: z.string(),
})
export type AuditEntry = z.infer<typeof AuditEntry>

export const CpsSecond = z.object({
  /** unix seconds */
  second: z.number().int(),
  admitted: z.number().int().nonnegative(),
  rateLimited: z.number().int().nonnegative(),
})
export type CpsSecond = z.infer<typeof CpsSecond>

/** Who controls the limit (issue #12): the adaptive pacer, or an operator's hold. */
export const PacingControlInfo = z.object({
  mode: z.enum(['auto', 'held']),
  heldBy: z.string().optional(),
  /** ISO time the hold ends by itself; absent while held: until `cps auto --resume` */
  heldUntil: z.string().optional(),
  holdReason: z.string().optional(),
  lastChange: z
    .object({ at: z.string(), actor: z.string(), source: z.string(), reason: z.string() })
    .nullable(),
})
export type PacingControlInfo = z.infer<typeof PacingControlInfo>

export const PacingSnapshot = z.object({
  limit: LimitInfo,
  /** optional so older snapshots still parse; the data plane always fills it */
  control: PacingControlInfo.optional(),
  /** admissions in the last complete second */
  cpsNow: z.number().nonnegative(),
  /** oldest first, one entry per second, gaps filled with zeros */
  last60: z.array(CpsSecond),
  /** rate-limited / (admitted + rate-limited) over the last 60 s; 0 when idle */
  rateLimitedShare: z.number().min(0).max(1),
  /** a dialer ran in degraded mode (Redis unreachable) within the last minute */
  degraded: z.boolean(),
})
export type PacingSnapshot = z.infer<typeof PacingSnapshot>

export const PIPE_STATES = [
  'RUNNING',
  'STOPPED',
  'CREATING',
  'UPDATING',
  'DELETING',
  'STARTING',
  'STOPPING',
  'CREATE_FAILED',
  'UPDATE_FAILED',
  'START_FAILED',
  'STOP_FAILED',
  'DELETE_FAILED',
  'CREATE_ROLLBACK_FAILED',
  'DELETE_ROLLBACK_FAILED',
  'UPDATE_ROLLBACK_FAILED',
  'UNKNOWN',
] as const

export const PipeDescription = z.object({
  name: z.string(),
  state: z.string(),
  desiredState: z.string(),
  stateReason: z.string().optional(),
  source: z.string(),
  filter: z.string().optional(),
  batchSize: z.number().int().optional(),
  batchWindowSeconds: z.number().optional(),
  enrichment: z.string().optional(),
  target: z.string(),
})
export type PipeDescription = z.infer<typeof PipeDescription>

export const PipeMetrics = z.object({
  windowMinutes: z.number().int().positive(),
  executions: z.number().nonnegative(),
  failures: z.number().nonnegative(),
})
export type PipeMetrics = z.infer<typeof PipeMetrics>

export const QueueDepth = z.object({
  visible: z.number().int().nonnegative(),
  inFlight: z.number().int().nonnegative(),
  oldestAgeSeconds: z.number().nonnegative(),
})
export type QueueDepth = z.infer<typeof QueueDepth>

export const DlqMessage = z.object({
  messageId: z.string(),
  campaignId: z.string().optional(),
  contactId: z.string().optional(),
  /** masked: the full number never reaches a terminal or a log */
  phone: z.string().optional(),
  attempts: z.number().int().optional(),
  /** set when the body is not a DialTask (e.g. bad JSON), first 80 chars, phone numbers masked */
  bodySummary: z.string().optional(),
  receiveCount: z.number().int().nonnegative(),
  sentAt: z.string(),
  firstReceivedAt: z.string().optional(),
})
export type DlqMessage = z.infer<typeof DlqMessage>

export const RedriveStatus = z.object({
  status: z.string(),
  taskHandle: z.string().optional(),
  moved: z.number().int().nonnegative(),
  toMove: z.number().int().nonnegative().optional(),
  maxPerSecond: z.number().int().optional(),
  startedAt: z.string().optional(),
  failureReason: z.string().optional(),
})
export type RedriveStatus = z.infer<typeof RedriveStatus>

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
})
export type CampaignTransition = z.infer<typeof CampaignTransition>

export const ControllerInputs = z.object({
  /** average CPU of the worker fleet, 0–100; null when no data */
  cpuPercent: z.number().nullable(),
  /** human-answered / finished calls over the sample window (machines are not answers); null when no data */
  answerRate: z.number().nullable(),
  /** finished calls in the window (the answer-rate rule needs a minimum sample) */
  sample: z.number().int().nonnegative(),
  at: z.string(),
})
export type ControllerInputs = z.infer<typeof ControllerInputs>

export const Alarm = z.object({
  name: z.string(),
  state: z.string(),
  reason: z.string().optional(),
  updatedAt: z.string().optional(),
})
export type Alarm = z.infer<typeof Alarm>

export const PushResult = z.object({
  sent: z.array(z.object({ id: z.string(), messageId: z.string() })),
  failed: z.array(z.object({ id: z.string(), code: z.string(), message: z.string() })),
})
export type PushResult = z.infer<typeof PushResult>

/** One entry of a batch to push: `id` is the caller's (echoed back), the task is validated. */
export interface PushEntry {
  id: string
  task: DialTask
  /** explicit IANA zone of the callee (`push --timezone`), stored on the contact push creates */
  timezone?: string
}

export const RunProgress = z.object({
  dialed: z.number().int(),
  rateLimited: z.number().int(),
  failed: z.number().int(),
  dropped: z.number().int(),
  dlq: z.number().int(),
  /**
   * Tasks that ended without a dial, by where and why (final outcomes dropped, filtered, dlq;
   * `reason` is the outcome reason's code, e.g. blacklisted, outside_calling_window, a GATE_REFUSALS
   * code from the dial gate; null for dlq). Default [] for older control Lambdas.
   */
  notDialed: z
    .array(
      z.object({
        stage: z.string(),
        outcome: z.string(),
        reason: z.string().nullable(),
        count: z.number().int(),
      }),
    )
    .default([]),
  /** milliseconds from send to dial, one per dialed task (for percentiles) */
  sendToDialMs: z.array(z.number()),
  firstDialAt: z.string().nullable(),
  lastDialAt: z.string().nullable(),
})
export type RunProgress = z.infer<typeof RunProgress>

/** `contacts import` of one file: where it is, how to read it, how to report progress. */
export interface FileImport {
  campaignId: string
  path: string
  /** bytes, from stat */
  size: number
  csv: ContactsCsvOptions
  strict: boolean
  /** bytes of the file read (or uploaded) so far, rows seen so far (0 while uploading) */
  onProgress?: (bytes: number, rows: number) => void
  /** a step the operator waits on without a byte count (the stage importing an upload) */
  onPhase?: (phase: string) => void
}

export interface ContactResultsPage {
  rows: ContactResult[]
  /** pass as `after` for the next page; null when this page was the last */
  next: string | null
}

export interface CampaignInput {
  campaign: unknown
  isTest?: boolean
  actor: string
}

export interface ContactRow {
  line: number
  id: string
  phoneNumber: string
  metadata: Record<string, unknown>
  /** explicit IANA zone of the callee (CSV column `timezone`); else the number's zones apply */
  timezone?: string
}

export const ImportResult = z.object({
  campaignId: z.string(),
  imported: z.number().int(),
  duplicates: z.number().int(),
  blacklisted: z.array(z.object({ line: z.number().int(), contactId: z.string(), phone: z.string() })),
  invalid: z.array(z.object({ line: z.number().int(), field: z.string(), message: z.string() })),
})
export type ImportResult = z.infer<typeof ImportResult>

export const OutcomeCount = z.object({
  stage: z.string(),
  outcome: z.string(),
  reason: z.string().nullable(),
  campaignId: z.string().nullable(),
  count: z.number().int(),
})
export type OutcomeCount = z.infer<typeof OutcomeCount>

export const Reachability = z.object({
  postgres: z.boolean(),
  redis: z.boolean(),
  /** local stack only: the worker's GET /health */
  worker: z.boolean().optional(),
})
export type Reachability = z.infer<typeof Reachability>

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
  importContacts(campaignId: string, rows: ContactRow[]): Promise<Omit<ImportResult, 'invalid'>>
  /** results of one campaign: outcomes, rates with their denominators, donations, opt-outs */
  campaignReport(id: string): Promise<CampaignReport>
  /** every contact's results, in id order, paged (the per-contact export) */
  contactResults(id: string): AsyncIterable<ContactResult>
  /** at most `limit` contacts' results after contact id `after` (null: from the start); `next`: the last id when more may follow */
  contactResultsPage(id: string, after: string | null, limit: number): Promise<ContactResultsPage>
  /** contact rows for tasks about to be pushed (the dial gate dials only existing contacts); rows created */
  registerPushedContacts(entries: readonly PushEntry[]): Promise<number>

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
  /**
   * `contacts import`: the file streamed through importCsvStream, valid rows saved chunk by chunk;
   * on an AWS stage a large file is uploaded to the stage bucket and imported by the control function.
   */
  importContactsFile(file: FileImport): Promise<ImportTotals>
}

/** The calls the adaptive controller makes (`cps auto`, the pacer Lambda). */
export type ControllerPort = Pick<ControlPlane, 'controllerInputs' | 'pacing' | 'setLimit' | 'limitHistory'>
