import { ControlCommand } from '../src/cli/control-command.js'
import { ExitCode } from '../src/exit-codes.js'
import { colors, duration, keyValues, percent, sparkline } from '../src/cli/render.js'
import { observe } from '../src/control/doctor.js'
import { pipeHealth } from '../src/control/health.js'
import type {
  Alarm,
  CampaignSummary,
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
  problems: string[]
}

const orError = <T>(v: T | Error): T | { error: string } => (v instanceof Error ? { error: v.message } : v)

export default class Status extends ControlCommand<typeof Status> {
  static override summary = 'One screen: pipe, CPS vs limit, queue and DLQ, active campaigns, alarms'
  static override description =
    'Exit code 0 when all is well, 3 when the pipe is unhealthy, pacing is degraded or an alarm is in ALARM (run `dialctl doctor` for causes and fixes).'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --stage prod --json',
  ]

  async run(): Promise<StatusResult> {
    const plane = await this.control()
    const o = await observe(plane)
    const c = colors()
    const problems: string[] = []
    const err = (e: Error) => c.red(`unavailable: ${e.message}`)

    let pipeLine: string
    if (o.pipe instanceof Error) {
      pipeLine = err(o.pipe)
      problems.push(`pipe: ${o.pipe.message}`)
    } else {
      const h = pipeHealth(
        o.pipe,
        o.pipeMetrics instanceof Error ? undefined : o.pipeMetrics,
        o.queue instanceof Error ? undefined : o.queue,
        undefined,
      )
      problems.push(...h.problems)
      pipeLine = `${o.pipe.state === 'RUNNING' ? c.green(o.pipe.state) : c.red(o.pipe.state)} (desired ${o.pipe.desiredState})`
    }
    let cpsLine: string
    if (o.pacing instanceof Error) {
      cpsLine = err(o.pacing)
      problems.push(`pacing: ${o.pacing.message}`)
    } else {
      const p = o.pacing
      if (p.degraded) problems.push('pacing degraded: dialers cannot reach Redis')
      cpsLine = `${p.cpsNow} / ${p.limit.limit} cps (${p.limit.source})  ${sparkline(
        p.last60.map((s) => s.admitted),
        p.limit.limit,
      )}  rate-limited ${percent(p.rateLimitedShare)}${p.degraded ? c.red('  DEGRADED') : ''}`
    }
    const depth = (q: QueueDepth | Error) =>
      q instanceof Error
        ? err(q)
        : `${q.visible} visible, ${q.inFlight} in flight, oldest ${duration(q.oldestAgeSeconds)}`
    const active = o.campaigns instanceof Error ? [] : o.campaigns.filter((x) => x.status === 'active')
    const alarms = o.alarms instanceof Error ? [] : o.alarms
    if (alarms.length) problems.push(`${alarms.length} alarm(s) in ALARM`)

    this.log(
      keyValues([
        ['Stage', `${plane.stage} (${plane.kind})`],
        ['Pipe', pipeLine],
        ['CPS', cpsLine],
        ['Queue', depth(o.queue)],
        ['DLQ', depth(o.dlq)],
        [
          'Campaigns',
          o.campaigns instanceof Error
            ? err(o.campaigns)
            : active.length === 0
              ? 'none active'
              : active
                  .map(
                    (x) =>
                      `${x.campaignId} (${x.contacts.pending} pending, ${x.contacts.dialing} dialing, answer ${percent(x.answerRate)}${x.windowOpen ? '' : ', window closed'})`,
                  )
                  .join('\n' + ' '.repeat(11)),
        ],
        [
          'Alarms',
          o.alarms instanceof Error
            ? err(o.alarms)
            : alarms.length
              ? c.red(alarms.map((a) => a.name).join(', '))
              : plane.kind === 'local'
                ? 'none (no CloudWatch locally)'
                : 'none in ALARM',
        ],
        ['Health', problems.length ? c.red(problems.join('; ')) : c.green('ok')],
      ]),
    )
    const result: StatusResult = {
      stage: plane.stage,
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
    }
    if (!result.healthy) {
      if (this.jsonEnabled()) this.logJson(result)
      this.exit(ExitCode.Unhealthy)
    }
    return result
  }
}
