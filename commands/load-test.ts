import { Flags } from '@oclif/core'
import cliProgress from 'cli-progress'
import { ControlCommand } from '../src/cli/control-command.js'
import { colors, table } from '../src/cli/render.js'
import { transitionLine } from '../src/cli/campaign-view.js'
import {
  LoadTestSummary,
  followLine,
  newRunId,
  runFigures,
  sendLoad,
  summarize,
  testCampaignFor,
  type LoadPlan,
  type SendOutcome,
} from '../src/control/load-test.js'
import type { ControlPlane, QueueDepth, RunProgress } from '../src/control/port.js'
import { TEST_NUMBER_COUNT } from '../src/tasks/test-numbers.js'

export default class LoadTest extends ControlCommand<typeof LoadTest> {
  static override summary =
    'Send N test dial tasks (reserved test numbers, test campaign) and measure the run'
  static override description = `Never dials real numbers: every task uses a number reserved for fiction, NANP 555-0100…0199 in every area code (${TEST_NUMBER_COUNT} numbers), and only a campaign marked as a test campaign is accepted (default: the built-in "load-test" campaign, created on first use); a draft test campaign given with --campaign is started, its contacts being the run's tasks. Sends with SendMessageBatch (10 per call, several calls in flight), shows a progress bar, then follows the run live (CPS vs limit; tasks dialed, waiting and not dialed; deferrals) until every task has an outcome or nothing moved for --idle-timeout, and ends with a summary: sent, dialed, waiting (no outcome yet: queued, or held in the dialer until its slot), not dialed (by reason), deferrals re-queued for their slot, limiter retries, DLQ, achieved CPS, p50/p99 time from send to dial.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> -n 1000',
    '<%= config.bin %> <%= command.id %> -n 5000 --rate 200 --campaign my-test-campaign',
    '<%= config.bin %> <%= command.id %> -n 100 --stage staging --json',
  ]
  static override flags = {
    count: Flags.integer({ char: 'n', description: 'tasks to send', default: 1000, min: 1, max: 100_000 }),
    rate: Flags.integer({ description: 'send at most this many tasks per second', min: 1 }),
    campaign: Flags.string({
      description: 'a campaign marked as test (default: the built-in load-test campaign)',
    }),
    concurrency: Flags.integer({
      description: 'SendMessageBatch calls in flight',
      default: 8,
      min: 1,
      max: 64,
    }),
    follow: Flags.boolean({
      description: 'follow the run until every task has an outcome',
      default: true,
      allowNo: true,
    }),
    'idle-timeout': Flags.integer({
      description: 'stop following after this many seconds without progress',
      default: 30,
      min: 1,
    }),
  }

  async run(): Promise<LoadTestSummary> {
    const { flags } = await this.parse(LoadTest)
    const plane = await this.control()
    const runId = newRunId()
    // the stores and the queues first: a stage that cannot take the run changes nothing (no start)
    const [pacing, dlqBefore] = await Promise.all([plane.pacing(), plane.dlqDepth()])
    const { campaign, started } = await testCampaignFor(
      plane,
      flags.campaign,
      this.actor(),
      `load-test run ${runId}: a test campaign gets its contacts from the run`,
    )
    if (started) this.log(transitionLine(started))
    const plan: LoadPlan = {
      runId,
      campaignId: campaign.campaignId,
      count: flags.count,
      ...(flags.rate ? { rate: flags.rate } : {}),
      concurrency: flags.concurrency,
      firstNumber: campaign.contacts.total,
    }
    const since = new Date(Date.now() - 60_000) // clock skew margin: the run id isolates our tasks
    const interactive = !this.jsonEnabled() && Boolean(process.stderr.isTTY)
    this.log(
      `Run ${plan.runId}: ${plan.count} tasks → ${plane.stage}, campaign ${plan.campaignId}, limit ${pacing.limit.limit} cps`,
    )

    const send = await this.sendWithBar(plane, plan, interactive)
    if (send.failed.length)
      this.warn(
        `${send.failed.length} task(s) were not accepted by the queue, e.g. ${send.failed[0]!.code}: ${send.failed[0]!.message}`,
      )
    const followed = await this.followRun(plane, plan, send, {
      since,
      dlqBefore,
      interactive,
      follow: flags.follow,
      idleTimeoutS: flags['idle-timeout'],
    })
    const summary = summarize(plan, send, followed.progress, {
      dlqGrowth: followed.dlqGrowth,
      limit: pacing.limit.limit,
    })
    this.printSummary(summary, flags.follow)
    return summary
  }

  /** Phase 1: sends the run's tasks, with a progress bar on stderr when interactive. */
  private async sendWithBar(plane: ControlPlane, plan: LoadPlan, interactive: boolean): Promise<SendOutcome> {
    const bar = interactive
      ? new cliProgress.SingleBar(
          { format: 'Sending  {bar} {value}/{total}  {rate}/s', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined
    bar?.start(plan.count, 0, { rate: 0 })
    const sendStart = Date.now()
    const send = await sendLoad(plane, plan, (sent) =>
      bar?.update(sent, {
        rate: Math.round(sent / Math.max(0.001, (Date.now() - sendStart) / 1000)),
      }),
    )
    bar?.stop()
    return send
  }

  /**
   * Phase 2: reads the run's progress; with `follow`, polls once a second (live line on stderr when
   * interactive) until every sent task has an outcome or nothing moved for `idleTimeoutS` seconds.
   * `dlqGrowth` is the DLQ's growth (visible + in flight) since `dlqBefore`.
   */
  private async followRun(
    plane: ControlPlane,
    plan: LoadPlan,
    send: SendOutcome,
    opts: { since: Date; dlqBefore: QueueDepth; interactive: boolean; follow: boolean; idleTimeoutS: number },
  ): Promise<{ progress: RunProgress; dlqGrowth: number }> {
    const { since, dlqBefore, interactive } = opts
    const prefix = `lt-${plan.runId}-`
    let progress: RunProgress = await plane.runProgress(plan.campaignId, prefix, since, send.sentAt)
    let dlqGrowth = 0
    if (!opts.follow) return { progress, dlqGrowth }
    let lastMoveAt = Date.now()
    let lastKey = ''
    for (;;) {
      const [p, snap, dlq] = await Promise.all([
        plane.runProgress(plan.campaignId, prefix, since, send.sentAt),
        plane.pacing(),
        plane.dlqDepth(),
      ])
      progress = p
      dlqGrowth = Math.max(0, dlq.visible + dlq.inFlight - (dlqBefore.visible + dlqBefore.inFlight))
      const key = `${p.dialed}/${p.deferred}/${p.rateLimited}/${p.dropped}/${dlqGrowth}`
      if (key !== lastKey) {
        lastKey = key
        lastMoveAt = Date.now()
      }
      const line = followLine(p, send.sent, dlqGrowth, { cpsNow: snap.cpsNow, limit: snap.limit.limit })
      if (interactive) process.stderr.write(`\r${line}   `)
      const { done } = runFigures(p, send.sent, dlqGrowth)
      if (done || Date.now() - lastMoveAt > opts.idleTimeoutS * 1000) {
        if (interactive) process.stderr.write('\n')
        if (!done)
          this.warn(
            `No progress for ${opts.idleTimeoutS} s: stopped following. Is the pipeline running? (dialctl status)`,
          )
        return { progress, dlqGrowth }
      }
      await new Promise((r) => setTimeout(r, 1000))
    }
  }

  /** The summary table, the not-dialed reasons, and whether every task reached an outcome. */
  private printSummary(summary: LoadTestSummary, follow: boolean): void {
    const ms = (v: number | null) => (v === null ? '—' : `${Math.round(v)} ms`)
    this.log(
      table(
        [
          'Sent',
          'Dialed',
          'Waiting',
          'Not dialed',
          'Re-queued for slot',
          'Retried (receive spent)',
          'DLQ',
          'Achieved CPS',
          'p50 send→dial',
          'p99 send→dial',
        ],
        [
          [
            `${summary.sent}/${summary.requested}`,
            summary.dialed,
            summary.waiting,
            summary.notDialed.reduce((n, r) => n + r.count, 0),
            summary.deferred,
            summary.retried,
            summary.dlq,
            summary.achievedCps === null ? '—' : `${summary.achievedCps.toFixed(1)} (limit ${summary.limit})`,
            ms(summary.sendToDialMs.p50),
            ms(summary.sendToDialMs.p99),
          ],
        ],
      ),
    )
    if (summary.notDialed.length)
      this.log(
        `Not dialed, by reason:\n${table(
          ['Reason', 'Where', 'Tasks'],
          summary.notDialed.map((r) => [r.reason, r.where, r.count]),
        )}`,
      )
    if (summary.waiting > 0)
      this.log(
        colors().yellow(
          `${follow ? 'Incomplete' : 'Not followed (--no-follow)'}: ${summary.waiting} task(s) waiting, with no outcome yet — in the queue, or held in the dialer until their slot; not lost: they are dialed as their slots come (dialctl status shows the queue draining).`,
        ),
      )
  }
}
