import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { type OperatorError, operatorError, usageError } from '../errors.js'
import type { DialTask } from '../contracts/index.js'
import type { CampaignSummary, CampaignTransition, ControlPlane, PushEntry, RunProgress } from './port.js'
import { SQS_MAX_BATCH } from '../queue/port.js'
import { testNumber } from '../tasks/test-numbers.js'

export const DEFAULT_TEST_CAMPAIGN_ID = 'load-test'

/** The campaign `load-test` uses when none is given: a test campaign, always in its window. */
export function defaultTestCampaign(id = DEFAULT_TEST_CAMPAIGN_ID) {
  return {
    id,
    name: 'Load test (reserved test numbers only)',
    type: 'voice',
    status: 'active',
    timezone: 'UTC',
    config: {
      audioFileUrl: 'https://example.invalid/load-test.wav',
      ivrFlow: {
        startNodeId: 'play',
        nodes: [{ id: 'play', type: 'play_audio', audioUrl: 'https://example.invalid/load-test.wav' }],
      },
      callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
      maxConcurrentCalls: 1000,
      maxAttemptsPerContact: 1,
    },
  }
}

/**
 * The campaign of a load test: the given one if it is marked as a test campaign (refused
 * otherwise: a load test must never dial a real campaign's audience), else the default one,
 * created on first use. A draft test campaign is started (audited, `reason` says by which run):
 * its contacts are the run's tasks, so nothing else would ever start it — this is what makes
 * `campaign create examples/load-test.jsonc --test --no-audio-check` then `load-test --campaign load-test-5min`
 * work. A paused one is refused (someone paused it), a completed or cancelled one too (final).
 */
export async function testCampaignFor(
  plane: ControlPlane,
  campaignId: string | undefined,
  actor: string,
  reason = 'load-test: a test campaign gets its contacts from the run',
): Promise<{ campaign: CampaignSummary; started?: CampaignTransition }> {
  if (!campaignId) return { campaign: await builtInTestCampaign(plane, actor) }
  const campaign = await plane.showCampaign(campaignId)
  if (!campaign.isTest)
    throw usageError(
      `Campaign "${campaignId}" is not marked as a test campaign; load-test refuses to use it.`,
      'Create one with `dialctl campaign create examples/load-test.jsonc --test --no-audio-check` (or your own file), or omit --campaign to use the built-in load-test campaign.',
      'NOT_A_TEST_CAMPAIGN',
    )
  if (campaign.status === 'draft') {
    const started = await plane.transitionCampaign(campaignId, 'start', reason, actor)
    return { campaign: await plane.showCampaign(campaignId), started }
  }
  if (campaign.status !== 'active') throw notActive(campaign)
  return { campaign }
}

async function builtInTestCampaign(plane: ControlPlane, actor: string): Promise<CampaignSummary> {
  let campaign: CampaignSummary
  try {
    campaign = await plane.showCampaign(DEFAULT_TEST_CAMPAIGN_ID)
  } catch (error) {
    if ((error as OperatorError).code !== 'CAMPAIGN_NOT_FOUND') throw error
    return plane.createCampaign({ campaign: defaultTestCampaign(), isTest: true, actor })
  }
  if (campaign.status !== 'active') throw notActive(campaign)
  return campaign
}

/** A test campaign that is paused or closed: its tasks would be released or dropped, not dialed. */
function notActive(campaign: CampaignSummary): OperatorError {
  const id = campaign.campaignId
  const closed = campaign.status === 'completed' || campaign.status === 'cancelled'
  return operatorError(
    `Test campaign "${id}" is ${campaign.status}: its tasks would be ${closed ? 'dropped' : 'released'}, not dialed.`,
    closed
      ? `${campaign.status} is final: create another test campaign (dialctl campaign create examples/load-test.jsonc --test --no-audio-check; a new "id" if that one exists) and pass it with --campaign.`
      : `Resume it: dialctl campaign resume ${id}`,
    'CAMPAIGN_NOT_ACTIVE',
  )
}

export interface LoadPlan {
  runId: string
  campaignId: string
  count: number
  /** messages per second at most; undefined = as fast as the queue takes them */
  rate?: number
  /** SendMessageBatch calls in flight at once */
  concurrency: number
  /**
   * Index of the run's first reserved test number: the campaign's contact count, so a run never
   * reuses a number an earlier run already made a contact of (a campaign holds each number once;
   * a reused one was refused at push). Wraps after TEST_NUMBER_COUNT numbers.
   */
  firstNumber?: number
}

/** Task i of a run: the reserved test number after the campaign's earlier ones, a contact id unique to the run. */
export function loadTask(plan: Pick<LoadPlan, 'runId' | 'campaignId' | 'firstNumber'>, i: number): DialTask {
  return {
    campaignId: plan.campaignId,
    contactId: `lt-${plan.runId}-${i}`,
    phoneNumber: testNumber((plan.firstNumber ?? 0) + i),
    metadata: { loadTest: plan.runId },
    attempts: 0,
  }
}

export function newRunId(): string {
  return randomBytes(4).toString('hex')
}

export interface SendOutcome {
  sent: number
  failed: { id: string; code: string; message: string }[]
  /** contactId → ms since epoch when its batch was accepted */
  sentAt: Map<string, number>
  startedAt: number
  finishedAt: number
}

/**
 * Sends the run's tasks in batches of 10 (SendMessageBatch), `concurrency` batches at a time,
 * never faster than `rate` messages per second.
 */
export async function sendLoad(
  plane: ControlPlane,
  plan: LoadPlan,
  onProgress: (sent: number) => void = () => {},
): Promise<SendOutcome> {
  const batches: PushEntry[][] = []
  for (let i = 0; i < plan.count; i += SQS_MAX_BATCH) {
    const batch: PushEntry[] = []
    for (let j = i; j < Math.min(i + SQS_MAX_BATCH, plan.count); j++)
      batch.push({ id: String(j), task: loadTask(plan, j) })
    batches.push(batch)
  }
  const startedAt = Date.now()
  const sentAt = new Map<string, number>()
  const failed: SendOutcome['failed'] = []
  let next = 0
  let sent = 0
  const worker = async () => {
    for (;;) {
      const index = next++
      const batch = batches[index]
      if (!batch) return
      if (plan.rate) {
        // batch k may start once k*10 messages fit in the elapsed time at `rate`
        const due = startedAt + ((index * 10) / plan.rate) * 1000
        const wait = due - Date.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      }
      const result = await plane.pushTasks(batch)
      const at = Date.now()
      for (const ok of result.sent) sentAt.set(batch[Number(ok.id) % 10]!.task.contactId, at)
      failed.push(...result.failed)
      sent += result.sent.length
      onProgress(sent)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, plan.concurrency) }, worker))
  return { sent, failed, sentAt, startedAt, finishedAt: Date.now() }
}

export const NotDialed = z.object({
  /** send, pipe filter, enrich, dial gate, queue (DLQ) */
  where: z.string(),
  /** the reason code: blacklisted, outside_calling_window, campaign_paused, a GATE_REFUSALS code, dlq, a send error code */
  reason: z.string(),
  count: z.number().int(),
})
export type NotDialed = z.infer<typeof NotDialed>

const WHERE: Record<string, string> = {
  filter: 'pipe filter',
  enrich: 'enrich',
  dialer: 'dial gate',
  queue: 'queue',
}

/** The run's outcomes without a dial, and its send failures, as rows (most first). */
export function notDialedRows(
  progress: RunProgress,
  sendFailures: { code: string }[],
  dlqGrowth = 0,
): NotDialed[] {
  const rows: NotDialed[] = progress.notDialed
    .filter((o) => o.outcome !== 'dlq')
    .map((o) => ({ where: WHERE[o.stage] ?? o.stage, reason: o.reason || o.outcome, count: o.count }))
  const byCode = new Map<string, number>()
  for (const f of sendFailures) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1)
  for (const [code, count] of byCode) rows.push({ where: 'send', reason: code, count })
  // On AWS, SQS moves tasks to the DLQ unrecorded: the DLQ's growth during the run stands for them.
  const dlq = Math.max(progress.dlq, dlqGrowth)
  if (dlq > 0) rows.push({ where: 'queue', reason: 'dlq (failed every receive)', count: dlq })
  return rows.sort((a, b) => b.count - a.count)
}

export const LoadTestSummary = z.object({
  runId: z.string(),
  campaignId: z.string(),
  requested: z.number().int(),
  sent: z.number().int(),
  sendFailures: z.number().int(),
  sendSeconds: z.number(),
  dialed: z.number().int(),
  /** deferrals to the next slot: re-sent with a delay, no receive spent (outcome deferred) */
  deferred: z.number().int(),
  /** limiter refusals that became ordinary retries, one receive spent each (outcome rate_limited) */
  retried: z.number().int(),
  failed: z.number().int(),
  dropped: z.number().int(),
  dlq: z.number().int(),
  /**
   * Sent tasks without a final outcome yet (`runFigures`): in the queue (not received yet, or
   * re-queued for their slot), held in a dialer batch until their promised slot (src/dialer/admission.ts:
   * a refused task whose slot is within the hold stays in its batch, recording nothing until it is
   * dialed), or being dialed. Neither dialed nor lost nor counted as deferred; 0 once `complete`.
   */
  waiting: z.number().int(),
  /**
   * Tasks not dialed, one row per place and reason, most first: the send (the queue refused it),
   * the pipe filter, enrich (campaign not active, blacklisted, window closed …), the dial gate (its
   * GATE_REFUSALS code), the DLQ (failed every receive). From the recorded outcomes of this run.
   */
  notDialed: z.array(NotDialed),
  /** dialed / seconds between the first and the last dial */
  achievedCps: z.number().nullable(),
  limit: z.number().int(),
  sendToDialMs: z.object({ p50: z.number().nullable(), p99: z.number().nullable() }),
  /** every task reached an outcome before the follow-up ended */
  complete: z.boolean(),
})
export type LoadTestSummary = z.infer<typeof LoadTestSummary>

export function percentileOf(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/**
 * Where a run's sent tasks are, from its recorded outcomes: `dialed`, `ended` without a dial (dropped,
 * filtered, DLQ — the larger of the recorded dead letters and `dlqGrowth`, the DLQ's growth, which
 * on AWS stands for those SQS moved unrecorded), and `waiting`: the rest, which have no final
 * outcome yet. A task held in the dialer until its slot records nothing while it waits, and one
 * deferred to the queue records `deferred` (not final: it comes back), so both are waiting — never
 * lost and never "not dialed". `done` when none is waiting.
 */
export function runFigures(
  progress: Pick<RunProgress, 'dialed' | 'dropped' | 'dlq'>,
  sent: number,
  dlqGrowth: number,
): { dialed: number; ended: number; waiting: number; done: boolean } {
  const ended = progress.dropped + Math.max(progress.dlq, dlqGrowth)
  const waiting = Math.max(0, sent - progress.dialed - ended)
  return { dialed: progress.dialed, ended, waiting, done: waiting === 0 }
}

/**
 * The live line `load-test` redraws while it follows a run: CPS against the limit, then the run's
 * tasks — dialed, waiting (`runFigures`), ended without a dial — and the deferral counts (events:
 * one task may be deferred more than once).
 */
export function followLine(
  progress: RunProgress,
  sent: number,
  dlqGrowth: number,
  pace: { cpsNow: number; limit: number },
): string {
  const f = runFigures(progress, sent, dlqGrowth)
  return `CPS ${pace.cpsNow}/${pace.limit}  dialed ${f.dialed}/${sent}  waiting ${f.waiting} (queued or held for their slot)  not dialed ${f.ended}  re-queued ${progress.deferred}  retried ${progress.rateLimited}  DLQ ${dlqGrowth}`
}

export function summarize(
  plan: LoadPlan,
  send: SendOutcome,
  progress: RunProgress,
  extra: { dlqGrowth: number; limit: number },
): LoadTestSummary {
  const first = progress.firstDialAt ? Date.parse(progress.firstDialAt) : null
  const last = progress.lastDialAt ? Date.parse(progress.lastDialAt) : null
  const spanSeconds = first !== null && last !== null ? (last - first) / 1000 : 0
  const dlq = Math.max(progress.dlq, extra.dlqGrowth)
  const figures = runFigures(progress, send.sent, extra.dlqGrowth)
  return {
    runId: plan.runId,
    campaignId: plan.campaignId,
    requested: plan.count,
    sent: send.sent,
    sendFailures: send.failed.length,
    sendSeconds: (send.finishedAt - send.startedAt) / 1000,
    dialed: progress.dialed,
    deferred: progress.deferred,
    retried: progress.rateLimited,
    failed: progress.failed,
    dropped: progress.dropped,
    dlq,
    waiting: figures.waiting,
    notDialed: notDialedRows(progress, send.failed, extra.dlqGrowth),
    achievedCps: spanSeconds > 0 ? progress.dialed / spanSeconds : null,
    limit: extra.limit,
    sendToDialMs: {
      p50: percentileOf(progress.sendToDialMs, 50),
      p99: percentileOf(progress.sendToDialMs, 99),
    },
    complete: figures.done,
  }
}
