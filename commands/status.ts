import { Flags } from '@oclif/core'
import { ControlCommand } from '../src/cli/control-command.js'
import { ExitCode } from '../src/exit-codes.js'
import { colors, duration, keyValues, percent, shareOf, sparkline } from '../src/cli/render.js'
import { observe } from '../src/control/doctor.js'
import { statusHealth } from '../src/control/status-health.js'
import { finishedAdvice } from '../src/campaigns/next-step.js'
import type {
  Alarm,
  CampaignSummary,
  ControlPlane,
  PacingSnapshot,
  PipeDescription,
  QueueDepth,
} from '../src/control/port.js'

export interface StatusResult {
  stage: string
  healthy: boolean
  pipe: PipeDescription | { error: string }
  pacing: PacingSnapshot | { error: string }
  queue: QueueDepth | { error: string }
  dlq: QueueDepth | { error: string }
  activeCampaigns: Pick<CampaignSummary, 'campaignId' | 'name' | 'contacts' | 'answerRate' | 'windowOpen'>[]
  alarms: Alarm[]
  /** why it is unhealthy (exit 3) */
  problems: string[]
  /** worth knowing, not unhealthy: an operator's recent limit cut, old dead letters */
  warnings: string[]
}

const orError = <T>(v: T | Error): T | { error: string } => (v instanceof Error ? { error: v.message } : v)

export default class Status extends ControlCommand<typeof Status> {
  static override summary = 'One screen: pipe, CPS vs limit, queue and DLQ, active campaigns, alarms'
  static override description =
    'Exit code 0 when all is well, 3 when the pipe is unhealthy, the worker refuses every dial (429 / 503 draining), pacing is degraded or stalled (tasks deferred while few are dialed), a limit cut or hold has starved demand for over 15 minutes, the DLQ is growing (on AWS: holds tasks), or an alarm is in ALARM. A backlog deferred and dialed at the limit is healthy. Run `dialctl doctor` for causes and fixes; docs/health.md has the rules.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --stage prod --json',
    '<%= config.bin %> <%= command.id %> --watch',
  ]

  static override flags = {
    watch: Flags.boolean({
      char: 'w',
      description: 'redraw the screen in place every --interval (Ctrl-C to stop)',
      default: false,
    }),
    interval: Flags.integer({ description: 'seconds between redraws with --watch', default: 2, min: 1 }),
    count: Flags.integer({ description: 'with --watch: stop after this many screens', min: 1 }),
  }

  async run(): Promise<StatusResult> {
    const plane = await this.control(ExitCode.Unhealthy)
    if (!this.flags.watch || this.jsonEnabled()) {
      const { text, result } = await this.screen(plane)
      this.log(text)
      if (!result.healthy) {
        if (this.jsonEnabled()) this.logJson(result)
        this.exit(ExitCode.Unhealthy)
      }
      return result
    }
    // The live view: one screen redrawn in place on a terminal (cursor home + clear), whole
    // screens one after another when piped, until Ctrl-C or --count screens.
    const tty = Boolean(process.stdout.isTTY)
    let stop = false
    let wake: (() => void) | undefined
    const onSignal = () => {
      stop = true
      wake?.()
    }
    process.on('SIGINT', onSignal)
    let last: StatusResult | undefined
    try {
      for (let frame = 1; !stop; frame++) {
        const { text, result } = await this.screen(plane)
        last = result
        const stamp = `dialctl status --watch · every ${this.flags.interval}s · ${new Date().toISOString().slice(11, 19)} UTC · Ctrl-C to stop`
        process.stdout.write(`${tty ? '\x1b[H\x1b[2J' : frame > 1 ? '\n' : ''}${stamp}\n${text}\n`)
        if (this.flags.count && frame >= this.flags.count) break
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, this.flags.interval * 1000)
        })
      }
    } finally {
      process.removeListener('SIGINT', onSignal)
    }
    return last!
  }

  /** One screen of the status and its result document. */
  private async screen(plane: ControlPlane): Promise<{ text: string; result: StatusResult }> {
    const o = await observe(plane)
    const c = colors()
    const { problems, warnings } = statusHealth(o)
    const err = (e: Error) => c.red(`unavailable: ${e.message}`)
    const pipeLine =
      o.pipe instanceof Error
        ? err(o.pipe)
        : `${o.pipe.state === 'RUNNING' ? c.green(o.pipe.state) : c.red(o.pipe.state)} (desired ${o.pipe.desiredState})`
    const cpsLine = o.pacing instanceof Error ? err(o.pacing) : formatCps(o.pacing, c)
    const depth = (q: QueueDepth | Error) =>
      q instanceof Error
        ? err(q)
        : `${q.visible} visible, ${q.inFlight} in flight, oldest ${duration(q.oldestAgeSeconds)}`
    const active = o.campaigns instanceof Error ? [] : o.campaigns.filter((x) => x.status === 'active')
    const alarms = o.alarms instanceof Error ? [] : o.alarms

    const inFlightCalls = active.reduce((n, x) => n + x.contacts.dialing, 0)
    const answered = active.reduce((n, x) => n + x.answered, 0)
    const finishedDials = active.reduce((n, x) => n + x.finishedDials, 0)
    const changes = recentLimitChanges(o.audit)
    const text = keyValues([
      ['Stage', `${plane.stage} (${plane.kind})`],
      ['Pipe', pipeLine],
      ['CPS', cpsLine],
      ['Queue', depth(o.queue)],
      ['DLQ', depth(o.dlq)],
      [
        'Calls',
        `${inFlightCalls} in progress · answered ${shareOf(answered, finishedDials, 'finished dials')} (active campaigns)`,
      ],
      ['Campaigns', o.campaigns instanceof Error ? err(o.campaigns) : formatCampaigns(active)],
      ['Alarms', o.alarms instanceof Error ? err(o.alarms) : formatAlarms(alarms, plane.kind, c)],
      ['Last changes', changes.length ? changes.join('\n' + ' '.repeat(14)) : 'no limit change recorded'],
      [
        'Health',
        problems.length
          ? c.red(problems.join('; '))
          : warnings.length
            ? `${c.green('ok')} ${c.yellow(`(${warnings.join('; ')})`)}`
            : c.green('ok'),
      ],
    ])
    const result = statusResult(plane.stage, o, active, { alarms, problems, warnings })
    return { text, result }
  }
}

type Observation = Awaited<ReturnType<typeof observe>>
type Colors = ReturnType<typeof colors>

/** The CPS row: now / limit, the last 60 s as a sparkline, and the share deferred. */
function formatCps(p: PacingSnapshot, c: Colors): string {
  const attempts = p.last60.reduce((n, x) => n + x.admitted + x.rateLimited, 0)
  return `${p.cpsNow} / ${p.limit.limit} cps (${p.limit.source})  ${sparkline(
    p.last60.map((s) => s.admitted),
    p.limit.limit,
  )}  deferred ${percent(p.rateLimitedShare)} of ${attempts} attempts (60 s)${p.degraded ? c.red('  DEGRADED') : ''}`
}

/** The last three limit changes from the audit, newest first; none when the audit is unavailable. */
function recentLimitChanges(audit: Observation['audit']): string[] {
  return audit && !(audit instanceof Error)
    ? audit
        .slice(0, 3)
        .map(
          (e) =>
            `${e.at.slice(11, 19)} UTC limit ${e.oldLimit ?? '—'} → ${e.newLimit} cps by ${e.actor} (${e.reason})`,
        )
    : []
}

/** One line per active campaign, aligned under the key column. */
function formatCampaigns(active: CampaignSummary[]): string {
  return active.length === 0
    ? 'none active'
    : active
        .map((x) =>
          x.allContactsFinished
            ? `${x.campaignId} (all contacts finished: ${finishedAdvice(x)})`
            : `${x.campaignId} (${x.contacts.pending} pending, ${x.contacts.dialing} dialing, answered ${x.answered} of ${x.finishedDials} finished dials${x.windowOpen ? '' : ', window closed'})`,
        )
        .join('\n' + ' '.repeat(14))
}

function formatAlarms(alarms: Alarm[], kind: ControlPlane['kind'], c: Colors): string {
  return alarms.length
    ? c.red(alarms.map((a) => a.name).join(', '))
    : kind === 'local'
      ? 'none (no CloudWatch locally)'
      : 'none in ALARM'
}

/** The --json document of one screen. */
function statusResult(
  stage: string,
  o: Observation,
  active: CampaignSummary[],
  { alarms, problems, warnings }: Pick<StatusResult, 'alarms' | 'problems' | 'warnings'>,
): StatusResult {
  return {
    stage,
    healthy: problems.length === 0,
    pipe: orError(o.pipe),
    pacing: orError(o.pacing),
    queue: orError(o.queue),
    dlq: orError(o.dlq),
    activeCampaigns: active.map((x) => ({
      campaignId: x.campaignId,
      name: x.name,
      contacts: x.contacts,
      answerRate: x.answerRate,
      windowOpen: x.windowOpen,
    })),
    alarms,
    problems,
    warnings,
  }
}
