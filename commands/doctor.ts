import { ControlCommand } from '../src/cli/control-command.js'
import { ExitCode } from '../src/exit-codes.js'
import { colors } from '../src/cli/render.js'
import { diagnose, observe, type DoctorReport } from '../src/control/doctor.js'

export default class Doctor extends ControlCommand<typeof Doctor> {
  static override summary = "Run the troubleshooting guide's checks and name the likely cause and the fix"
  static override description =
    'Messages stuck (pipe state, consumer errors, permissions, queue age), high rate limiting (limit vs demand, campaigns running, degraded pacing), enrichment failures (PostgreSQL reachable, campaigns exist), the DLQ and CloudWatch alarms. Exit code 0 when nothing fails, 3 when something does.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --stage prod --json',
  ]

  async run(): Promise<DoctorReport> {
    const plane = await this.control(ExitCode.Unhealthy)
    const report = diagnose(await observe(plane))
    const c = colors()
    const mark = { ok: c.green('✓'), warn: c.yellow('!'), fail: c.red('✗'), skip: c.dim('-') }
    this.log(`dialctl doctor — stage ${report.stage}\n`)
    for (const check of report.checks) {
      this.log(`${mark[check.status]} ${check.title}: ${check.detail}`)
      if (check.cause) this.log(`    cause: ${check.cause}`)
      if (check.fix) this.log(`    fix:   ${c.bold(check.fix)}`)
    }
    this.log(
      report.healthy
        ? `\n${c.green('No problem found.')}`
        : `\n${c.red('Problems found (see fix lines above).')}`,
    )
    if (!report.healthy) {
      if (this.jsonEnabled()) this.logJson(report)
      this.exit(ExitCode.Unhealthy)
    }
    return report
  }
}
