import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { sleep } from '../../src/clock.js'
import { errorMessage, usageError } from '../../src/errors.js'
import { colors, parseInterval, percent } from '../../src/cli/render.js'
import { autoStep, initialState, type AutoStep } from '../../src/control/auto.js'
import { localPacerNote, pacerSteers } from '../../src/control/verdicts.js'
import { inputFile } from '../../src/cli/input-file.js'
import { loadPacingPolicy, type PacingPolicy } from '../../src/pacing/policy.js'

export interface CpsAutoResult {
  stage: string
  dryRun: boolean
  steps: AutoStep[]
}

export default class CpsAuto extends ControlCommand<typeof CpsAuto> {
  static override summary = 'Run the adaptive pace controller (CPU tiers, answer rate, hysteresis, cooldown)'
  static override description =
    "Reads the worker fleet's CPU and the answer rate, applies the policy (default: the seed's table, CPU < 70% → 100, 70–85% → 50, > 85% → 25, and a cut when the answer rate is low over a minimum sample) and sets the limit. Prints each decision with its inputs and reason. --once runs one interval; otherwise it runs every --interval until Ctrl-C."
  static override examples = [
    '<%= config.bin %> <%= command.id %> --once --dry-run',
    '<%= config.bin %> <%= command.id %> --resume --reason "carrier is fine again"',
    '<%= config.bin %> <%= command.id %> --interval 30s --policy pacing-policy.json',
    '<%= config.bin %> <%= command.id %> --once --stage prod --json',
  ]
  static override flags = {
    once: Flags.boolean({ description: 'one decision, then exit', exclusive: ['interval'] }),
    interval: Flags.string({ description: 'time between decisions (e.g. 30s, 1m)', default: '30s' }),
    'dry-run': Flags.boolean({ description: 'decide and print, do not change the limit' }),
    policy: Flags.string({ description: 'JSON policy file (tiers, thresholds, cooldown, floor, ceiling)' }),
    iterations: Flags.integer({ description: 'stop after this many decisions', min: 1, hidden: true }),
    resume: Flags.boolean({
      description: 'end the hold put by `cps set`: the adaptive pacer steers the limit again',
    }),
    reason: Flags.string({ description: 'why (with --resume; kept in the audit trail)', default: 'resumed' }),
  }

  async run(): Promise<CpsAutoResult> {
    const { flags } = await this.parse(CpsAuto)
    if (flags.policy)
      await inputFile(
        flags.policy,
        'pacing policy file (JSON)',
        'dialctl cps auto --policy pacing-policy.json',
      )
    let policy: PacingPolicy
    let intervalMs: number
    try {
      policy = loadPacingPolicy(flags.policy)
      intervalMs = parseInterval(flags.interval)
    } catch (error) {
      throw usageError(errorMessage(error), 'Fix the file or flag named above.')
    }
    if (intervalMs < 1000) throw usageError('--interval must be at least 1s.', 'Use e.g. --interval 30s.')
    const plane = await this.control()
    if (flags.resume) {
      if (flags.reason.trim() === '')
        throw usageError('--reason is empty.', 'Say why, e.g. --reason "carrier is fine again"')
      const ended = await plane.resumeAuto(flags.reason, this.actor())
      // No scheduled pacer runs on the local stack: say what the limit does instead.
      const steers = pacerSteers(plane.kind)
        ? 'the adaptive pacer steers the limit again'
        : localPacerNote((await plane.pacing()).limit.limit)
      this.log(
        ended
          ? `${colors().green('✓')} hold ended on ${plane.stage}: ${steers}`
          : `Nothing was held on ${plane.stage}: ${pacerSteers(plane.kind) ? 'the adaptive pacer already steers the limit' : steers}.`,
      )
      if (flags.once || flags.iterations === undefined)
        return { stage: plane.stage, dryRun: false, steps: [] }
    }
    let state = await initialState(plane)
    const steps: AutoStep[] = []
    const max = flags.once ? 1 : (flags.iterations ?? Infinity)
    // Ctrl-C ends the loop after the current decision; it also cuts the wait short.
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    const c = colors()
    try {
      while (!stop.signal.aborted && steps.length < max) {
        const next = await autoStep(plane, policy, state, { dryRun: flags['dry-run'], actor: this.actor() })
        state = next.state
        steps.push(next.step)
        const s = next.step
        const mark = s.action === 'cut' ? c.red('▼') : s.action === 'raise' ? c.green('▲') : c.dim('=')
        this.log(
          `${s.at} ${mark} ${s.limit} cps  cpu ${s.inputs.cpuPercent === null ? '—' : s.inputs.cpuPercent.toFixed(1) + '%'}  answer ${percent(s.inputs.answerRate)} (n=${s.inputs.answerSample})  ${s.reason}${flags['dry-run'] && s.action !== 'hold' ? c.yellow(' [dry run: not applied]') : ''}`,
        )
        if (steps.length < max && !stop.signal.aborted) await sleep(intervalMs, stop.signal)
      }
    } finally {
      process.off('SIGINT', onSignal)
    }
    return { stage: plane.stage, dryRun: Boolean(flags['dry-run']), steps }
  }
}
