import { Args } from '@oclif/core'
import { ControlCommand } from '../src/cli/control-command.js'
import { colors, table } from '../src/cli/render.js'
import { callTimeline, type CallTimeline } from '../src/tracing/call-timeline.js'
import type { TimelineRow } from '../src/tracing/pg-sink.js'

/** Sub-steps of a stage (a statement, a prompt, a key, an action) are indented under it. */
const SUB_STEPS = new Set(['postgres', 'playback', 'digit', 'action'])

export default class Trace extends ControlCommand<typeof Trace> {
  static override summary = 'Where one dial task spent its time: its trace, queue to hang-up'
  static override description =
    'Prints the timeline of the task that became CALL_ID — queued, received (receive count), enriched, dialer, admitted (slot wait), deferred, dial-request, claimed, originated, answered, playback, digit, action, ended — with when each stage started (from the first) and the time spent in it. Local stage: the spans `dialctl dev --trace` recorded in PostgreSQL. AWS stages: the spans are in X-Ray; this prints the filter expression that finds the trace in the CloudWatch console. A call id is call.<campaign>.<contact>.<attempt> (attempt 0 first), as the worker and the dialer log it.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> call.demo.c-17.0',
    '<%= config.bin %> <%= command.id %> call.demo.c-17.0 --json',
    '<%= config.bin %> <%= command.id %> call.gala-2026.c-17.0 --stage prod --region eu-west-1',
  ]
  static override args = {
    callId: Args.string({ description: 'the call id (call.<campaign>.<contact>.<attempt>)', required: true }),
  }

  async run(): Promise<CallTimeline> {
    const { args } = await this.parse(Trace)
    const plane = await this.control()
    const result = await callTimeline(plane, args.callId, this.flags.region ?? process.env.AWS_REGION)
    if (result.source === 'xray') {
      this.log(
        [
          `Stage ${result.stage} sends its spans to AWS X-Ray. In the CloudWatch console, Traces:`,
          `  ${result.console}`,
          `  query: ${result.filterExpression}`,
          'then open the trace for its timeline and trace map (docs/deploy.md, "Tracing").',
        ].join('\n'),
      )
      return result
    }
    this.log(renderTimeline(result))
    return result
  }
}

function ms(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`
}

function detail(row: TimelineRow): string {
  const a = row.attributes as Record<string, string | number | undefined>
  const parts: string[] = []
  if (a.receiveCount !== undefined) parts.push(`receive #${a.receiveCount}`)
  if (a.query) parts.push(String(a.query))
  if (a.admitted !== undefined) parts.push(`${a.admitted} admitted at ${a.limit} CPS (${a.mode})`)
  if (a.slotWaitMs !== undefined) parts.push(`slot wait ${ms(Number(a.slotWaitMs))}`)
  if (a.deferredMs !== undefined) parts.push(`back in ${ms(Number(a.deferredMs))}`)
  if (a.status) parts.push(String(a.status))
  if (a.httpStatus) parts.push(`HTTP ${a.httpStatus}`)
  if (a.digit) parts.push(`key ${a.digit}`)
  if (a.action) parts.push(String(a.action))
  if (a.hangupCause !== undefined) parts.push(`cause ${a.hangupCause}`)
  if (a.endedBy) parts.push(`ended by ${a.endedBy}`)
  if (a.reason) parts.push(String(a.reason))
  return parts.join(' · ')
}

export function renderTimeline(t: Extract<CallTimeline, { source: 'postgres' }>): string {
  const c = colors()
  const head = `${c.bold(t.callId)}  trace ${t.traceIds.join(', ')}  ${t.rows.length} spans over ${ms(t.totalMs)}`
  const rows = t.rows.map((r) => [
    `+${ms(r.offsetMs)}`,
    ms(r.durationMs),
    SUB_STEPS.has(r.name) ? `  └ ${r.name}` : r.name,
    detail(r),
  ])
  return `${head}\n${table(['AT', 'TIME', 'STAGE', 'DETAIL'], rows)}`
}
