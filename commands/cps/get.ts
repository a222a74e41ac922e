import { ControlCommand } from '../../src/cli/control-command.js'
import { colors, keyValues, percent, sparkline } from '../../src/cli/render.js'
import type { PacingSnapshot } from '../../src/control/port.js'
import { cpsCeiling } from '../../src/pacing/limit-store.js'
import { runningLocalStack } from '../../src/local-stack/stack-file.js'

export type CpsGetResult = PacingSnapshot & { stage: string }

export default class CpsGet extends ControlCommand<typeof CpsGet> {
  static override summary = 'Show the live CPS limit, the pace now and over the last 60 seconds'
  static override description =
    'The limit every dialer reads (and where it comes from: Redis, or the MAX_CPS default), calls admitted in the last complete second, a sparkline of the last 60 s scaled to the limit, the share of tasks rate-limited, and whether pacing is degraded (Redis unreachable).'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --stage prod --json',
  ]

  async run(): Promise<CpsGetResult> {
    const plane = await this.control()
    const snap = await plane.pacing()
    // The local default is the running stack's start limit: name where it came from.
    const from = plane.kind === 'local' ? (await runningLocalStack())?.maxCpsFrom : undefined
    const c = colors()
    const source =
      snap.limit.source === 'redis'
        ? 'live (Redis)'
        : snap.limit.source === 'postgres'
          ? 'restored from PostgreSQL (Redis had lost it)'
          : plane.kind === 'local'
            ? `default (${from === '--max-cps' ? 'dialctl dev --max-cps' : (from ?? "the running dialctl dev's start limit")}): nobody has set one`
            : 'default (MAX_CPS): nobody has set one'
    const control = snap.control
    const mode =
      control?.mode === 'held'
        ? c.yellow(
            `held by ${control.heldBy ?? '?'} ${control.heldUntil ? `until ${control.heldUntil}` : 'until `dialctl cps auto --resume`'}`,
          )
        : plane.kind === 'local'
          ? `auto: no pacer runs locally, the limit stays at ${snap.limit.limit} cps (one pacer step: dialctl cps auto --once)`
          : 'auto (the adaptive pacer may change it)'
    const last = control?.lastChange
    const ceiling = cpsCeiling()
    const history = snap.last60.map((s) => s.admitted)
    this.log(
      keyValues([
        ['Stage', plane.stage],
        ['Limit', `${c.bold(String(snap.limit.limit))} cps  ${c.dim(source)}`],
        ['Mode', mode],
        ['Ceiling', `${ceiling} cps`],
        ['Last change', last ? `${last.at} by ${last.actor} (${last.source}): ${last.reason}` : '—'],
        ['Now', `${snap.cpsNow} cps`],
        ['Last 60 s', `${sparkline(history, snap.limit.limit)}  peak ${Math.max(0, ...history)}`],
        ['Rate-limited', percent(snap.rateLimitedShare)],
        ['Degraded', snap.degraded ? c.red('yes: Redis unreachable, dialers on their local limit') : 'no'],
      ]),
    )
    return { stage: plane.stage, ...snap }
  }
}
