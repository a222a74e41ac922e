import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Flags } from '@oclif/core'
import { setLogDestination } from '../src/observability/logger.js'
import { localDataDir } from '../src/local-stack/stack-file.js'
import { BaseCommand } from '../src/cli/base-command.js'
import { otherTerminalsLine, shownPath } from '../src/local-stack/shown-path.js'
import { maxCpsNote } from '../src/cli/max-cps-note.js'
import { addDemoContacts, DEMO_CAMPAIGN_ID } from '../src/local-stack/demo.js'
import { startLocalStack, type LocalStackStatus } from '../local/stack.js'

type LocalStack = Awaited<ReturnType<typeof startLocalStack>>
import { redactUrl } from '../src/local-stack/services.js'
import { bestEffort } from '../src/errors.js'

export default class Dev extends BaseCommand<typeof Dev> {
  static override summary = 'Run the whole pipeline on this machine (the local stack)'
  static override description = `Starts, in one process, the same pipeline as on AWS: the local dial-tasks queue and its DLQ (PostgreSQL, SQS semantics), the local pipe (filter, batch 10 / 5 s, enrich, dialer), the dialer's Redis limiter, the worker with a simulated callee, and the dispatcher. Uses DATABASE_URL / REDIS_URL, else the local servers, else an embedded PostgreSQL (PGlite, under .dialctl/) and a private redis-server. Every other dialctl command (--stage local) works against it from another terminal. Ctrl-C stops it cleanly: in-flight batches and calls finish, nothing queued is lost.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --demo 50 --max-cps 5',
    '<%= config.bin %> <%= command.id %> --answer-rate 0.3 --seed 7 --port 8788',
    'ARI_URL=http://127.0.0.1:8088 ARI_USER=dialctl ARI_PASSWORD=… ARI_ENDPOINT_TEMPLATE=Local/{digits}@dialctl-test <%= config.bin %> <%= command.id %> --driver ari',
  ]
  static override flags = {
    port: Flags.integer({ description: 'worker HTTP port', default: 8787 }),
    'max-cps': Flags.integer({
      description: 'default CPS limit when Redis holds none (MAX_CPS)',
      env: 'MAX_CPS',
    }),
    demo: Flags.integer({
      description: 'add this many demo contacts (reserved test numbers) to the demo campaign',
      default: 0,
    }),
    driver: Flags.string({
      description:
        'telephony: sim (simulated callee) or ari (a real Asterisk, from ARI_URL / ARI_USER / ARI_PASSWORD / ARI_ENDPOINT_TEMPLATE; docs/asterisk.md)',
      options: ['sim', 'ari'],
      default: 'sim',
    }),
    'answer-rate': Flags.string({
      description: 'simulated callee: share of calls answered (0–1)',
      default: '0.6',
    }),
    seed: Flags.integer({ description: 'simulated callee: random seed, for reproducible runs', default: 1 }),
    speed: Flags.string({
      description: 'simulated callee: time factor (1 real time, 0 instant)',
      default: '1',
    }),
    'batch-window': Flags.integer({ description: 'pipe batching window, seconds', default: 5 }),
    dispatcher: Flags.boolean({ description: 'run the dispatcher loop', default: true, allowNo: true }),
    'status-every': Flags.integer({ description: 'seconds between status lines', default: 2 }),
    logs: Flags.boolean({
      description:
        'pipeline logs on stdout, status as whole lines between them (default: logs to .dialctl/dev.log, one live status line)',
      default: false,
    }),
    trace: Flags.boolean({
      description:
        "record every task's spans (queue to hang-up) in PostgreSQL; read one with `dialctl trace CALL_ID`",
      default: false,
    }),
    'log-level': Flags.string({
      description: 'level of the pipeline logs (JSON lines)',
      options: ['DEBUG', 'INFO', 'WARN', 'ERROR'],
      default: 'INFO',
    }),
  }

  async run(): Promise<{ stopped: true; last?: LocalStackStatus }> {
    const { flags } = this
    // Logs and the live status never share a line: by default the JSON logs go to a file (tail
    // it, or run with --logs); with --logs they go to stdout and the status is printed as whole
    // lines, never redrawn in place over a log line.
    const dataDir = localDataDir()
    let logFile: string | undefined
    if (!flags.logs) {
      await mkdir(dataDir, { recursive: true })
      logFile = join(dataDir, 'dev.log')
      setLogDestination(createWriteStream(logFile, { flags: 'a' }))
    }
    const live = !flags.logs && Boolean(process.stderr.isTTY)
    const stack = await startLocalStack({
      ...(logFile ? { logFile } : {}),
      workerPort: flags.port,
      ...(flags['max-cps'] ? { maxCps: flags['max-cps'] } : {}),
      batchWindowSeconds: flags['batch-window'],
      dispatcher: flags.dispatcher,
      logLevel: flags['log-level'],
      sim: { answerRate: Number(flags['answer-rate']), seed: flags.seed, speed: Number(flags.speed) },
      driver: flags.driver as 'sim' | 'ari',
      trace: flags.trace,
    })
    if (stack.replacedStackFile) {
      const old = stack.replacedStackFile
      this.logToStderr(
        `Note: replaced ${shownPath(join(dataDir, 'stack.json'))}, left by a stack that is no longer running${old.pid ? ` (pid ${old.pid}${old.startedAt ? `, started ${old.startedAt}` : ''})` : ''}.`,
      )
    }
    this.printBanner(stack, logFile, dataDir)
    const note = maxCpsNote(
      flags['max-cps'],
      await stack.status().catch(() => ({ cpsLimit: 0, limitSource: 'default' })),
    )
    if (note) this.logToStderr(note)
    if (flags.demo > 0) {
      const added = await addDemoContacts(stack.pool, flags.demo)
      this.logToStderr(
        `Added ${added} demo contacts to "${DEMO_CAMPAIGN_ID}"; the dispatcher queues them now.`,
      )
    }

    const ticker = this.startStatusTicker(stack, live)

    // `on`, not `once`: kept until the second Ctrl-C's handler is in place (drainOrAbandon), so a
    // quick second Ctrl-C never meets Node's default action (kill, database left untrue).
    const stop = () => undefined
    await new Promise<void>((resolve) => {
      process.on('SIGINT', stop).once('SIGINT', () => resolve())
      process.on('SIGTERM', stop).once('SIGTERM', () => resolve())
    })
    ticker.stop()
    if (live) process.stderr.write('\n')
    await this.drainOrAbandon(stack, () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    })
    const last = ticker.last()
    return { stopped: true, ...(last ? { last } : {}) }
  }

  /** What runs where, and how to use it from another terminal (stderr). */
  private printBanner(stack: LocalStack, logFile: string | undefined, dataDir: string): void {
    const { flags } = this
    this.logToStderr(
      [
        'dialctl local stack is running.',
        `  PostgreSQL  ${redactUrl(stack.databaseUrl)} (${stack.services[0]?.kind})`,
        `  Redis       ${redactUrl(stack.redisUrl)} (${stack.services[1]?.kind})`,
        `  worker      ${stack.workerUrl} (${flags.driver === 'ari' ? `Asterisk at ${process.env.ARI_URL ?? ''}` : 'simulated callee'})`,
        `  pipe        dial-tasks → filter → enrich → dialer → worker`,
        `  tracing     ${flags.trace ? "on: each task's spans in PostgreSQL; read one with `dialctl trace CALL_ID`" : "off (--trace records each task's spans)"}`,
        `  schema      ${stack.schema ?? 'default search_path (public)'} · Redis prefix ${stack.redisPrefix === '' ? '(none)' : JSON.stringify(stack.redisPrefix)}`,
        `  logs        ${logFile ? `${shownPath(logFile)} (follow: tail -f ${shownPath(logFile)}, or run with --logs)` : 'stdout (JSON lines)'}`,
        `  ${otherTerminalsLine(dataDir, process.env.DIALCTL_HOME)}`,
        `  demo campaign "${DEMO_CAMPAIGN_ID}" ${stack.demoSeeded ? 'created' : 'ready'}`,
        `Try, in another terminal: ./bin/run.js push --campaign ${DEMO_CAMPAIGN_ID} --phone +12025550199`,
        'Ctrl-C to stop.',
      ].join('\n'),
    )
  }

  /** Every `--status-every` seconds, one status line: redrawn in place when `live`, else a whole line. */
  private startStatusTicker(
    stack: LocalStack,
    live: boolean,
  ): { stop: () => void; last: () => LocalStackStatus | undefined } {
    let last: LocalStackStatus | undefined
    const timer = setInterval(() => {
      const update = stack.status().then((s) => {
        last = s
        // On a terminal without logs the status is one live line, redrawn in place; else one
        // whole line per tick.
        if (live) process.stderr.write(`\r\x1b[K${formatStatus(s)}`)
        else this.logToStderr(formatStatus(s))
      })
      void bestEffort(update, 'a status line is skipped; the next tick draws one')
    }, this.flags['status-every'] * 1000)

    return { stop: () => clearInterval(timer), last: () => last }
  }

  /**
   * First Ctrl-C: drain, saying what is being waited for. Second: abandon, but leave the database
   * true (open calls closed as failed), so the next start has nothing to recover. Exits 130 when abandoned.
   */
  private async drainOrAbandon(stack: LocalStack, releaseFirstHandler: () => void): Promise<void> {
    // The second Ctrl-C's handler is in place before the first one's goes and before the message
    // that invites it: with no SIGINT listener Node restores the default action, and a quick
    // second Ctrl-C killed the process with the database untrue (seen in CI).
    const abandoned = new Promise<number>((resolve) => {
      const again = () =>
        void stack.abandon('abandoned by the operator (second Ctrl-C in dialctl dev)').then(resolve)
      process.once('SIGINT', again)
      process.once('SIGTERM', again)
    })
    releaseFirstHandler()
    const calls = stack.worker.activeCalls
    this.logToStderr(
      `Stopping: draining ${calls} call${calls === 1 ? '' : 's'} and the batches in flight — Ctrl-C again to abandon.`,
    )
    const outcome = await Promise.race([stack.stop().then(() => undefined), abandoned])
    setLogDestination(undefined)
    if (outcome !== undefined) {
      this.logToStderr(
        `Abandoned: ${outcome} open call${outcome === 1 ? '' : 's'} recorded as failed (their contacts retry later); queued tasks wait in the local queue for the next \`dialctl dev\`.`,
      )
      this.exit(130)
    }
    this.logToStderr(
      'Stopped. Nothing queued was lost: it waits in the local queue for the next `dialctl dev`.',
    )
  }
}

export function formatStatus(s: LocalStackStatus): string {
  return (
    `CPS ${s.cpsNow}/${s.cpsLimit} (${s.limitSource}) · queue ${s.queueVisible} visible, ${s.queueInFlight} in flight` +
    ` · DLQ ${s.dlqDepth} · calls active ${s.activeCalls} · answered ${s.answered} of ${s.finished} finished`
  )
}
