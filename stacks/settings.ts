/**
 * The numbers the stacks are built from, in one place: the stacks, their tests and docs/deploy.md
 * read them from here. Plain values (no SST globals) so tests can import them directly.
 */

import { PIPE_BATCH_SIZE, PIPE_BATCH_WINDOW_SECONDS } from '../src/pipe/batching.js'
import { DIAL_TASKS_FILTER } from '../src/pipe/dial-tasks-filter.js'
import { DEFAULT_TRACE_SAMPLE_RATE } from '../src/tracing/stamp.js'

export { metricNamespace, SERVICE } from '../src/observability/metrics.js'
export { TIME_ZONE_DATA } from '../src/campaigns/time-zone-data.js'

/** Seed: "Batch: 10 messages, 5 second window" (src/pipe/batching.ts; the dialer's hold follows it). */
export const BATCH_SIZE = PIPE_BATCH_SIZE
export const BATCH_WINDOW_SECONDS = PIPE_BATCH_WINDOW_SECONDS

/**
 * The queue moves a task to the DLQ on its 5th receive. AWS advises a maxReceiveCount of at least
 * 5 for queues that feed Lambda through a poller (a throttled or scaling-out batch is received
 * again without being processed): https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 * (DESIGN said 3; issue #13 raised it.)
 */
export const MAX_RECEIVE_COUNT = 5

/** Seed scenario 3: the dialer gives the worker 5 s per dial command. */
export const DIAL_HTTP_TIMEOUT_SECONDS = 5

/**
 * Worst case the dialer waits on every dial of a full batch, plus headroom for Redis and PG (and
 * for the hold of refused tasks, at most 7 s: src/dialer/admission.ts; the POSTs run concurrently).
 */
export const DIALER_TIMEOUT_SECONDS = DIAL_HTTP_TIMEOUT_SECONDS * BATCH_SIZE + 10
export const ENRICH_TIMEOUT_SECONDS = 30
export const DISPATCHER_TIMEOUT_SECONDS = 60
export const PACER_TIMEOUT_SECONDS = 30
/**
 * A control call: usually one store query or a 2,000-row import chunk (seconds); a large contacts
 * file imported from the upload bucket takes longer (about a minute per few hundred thousand rows),
 * so the function may run for Lambda's maximum, 900 s. A call that ends early costs nothing more.
 */
export const CONTROL_TIMEOUT_SECONDS = 900

/** The key prefix contacts files are uploaded under (src/control/control-ops.ts UPLOAD_PREFIX). */
export const UPLOAD_PREFIX = 'contacts-uploads/'
/** Uploaded contacts files are deleted by the bucket's lifecycle rule after this many days. */
export const UPLOAD_EXPIRY_DAYS = 1

/**
 * A message stays invisible while the pipe works on it: batching window + enrichment + target.
 * If it became visible earlier, a second pipe poller could dial the same contact while the first
 * batch is still running. Six times the dialer's timeout follows AWS's advice for Lambda sources
 * and stays well above window + enrich + dialer.
 */
export const VISIBILITY_TIMEOUT_SECONDS = 6 * DIALER_TIMEOUT_SECONDS

/** Only the default: the live limit is in Redis (`dialctl cps set`). */
export const DEFAULT_MAX_CPS = 100

/** The pipe's filter: messages without a phone number are dropped before any Lambda runs. */
export const FILTER_PATTERN = JSON.stringify(DIAL_TASKS_FILTER)

/**
 * A second pattern (filters are OR'ed) that lets a body that is not JSON through: Pipes matches
 * such a body as a plain string, which no `phoneNumber` pattern can match, so the first filter
 * alone deletes it with no trace. Let through, the enrich Lambda records it (`dropped`, `malformed`)
 * as the local pipe does. A JSON body is an object, never this string match.
 */
export const NON_JSON_BODY_PATTERN = JSON.stringify({ body: [{ 'anything-but': '' }] })

/** The pacer runs the adaptive controller this often. */
export const PACER_SCHEDULE = 'rate(1 minute)'

/** Pause between two dispatch rounds of a campaign's state machine. */
export const DISPATCH_WAIT_SECONDS = 30

/** The worker's HTTP port inside the task; the dialer calls it through Cloud Map. */
export const WORKER_PORT = 8080

/** Asterisk: SIP signalling and the RTP media range (must match worker/asterisk/rtp.conf). */
export const SIP_PORT = 5060
export const RTP_PORT_RANGE = { from: 10000, to: 10999 } as const

/** Alarm thresholds of the seed's monitoring table. Percentages are 0–100. */
export const ALARM = {
  pipeFailedPercent: 5,
  pipeThrottledCount: 10,
  enrichErrorPercent: 5,
  dialerErrorPercent: 5,
  /** CurrentCPS above this share of the live limit (CpsLimit, or MAX_CPS when not published). */
  cpsOfLimitPercent: 90,
  /** deferred share (seed: > 20 %), counted only in minutes that dial below stallAdmitShare of the limit */
  rateLimitedPercent: 20,
  /** = STALL_ADMIT_SHARE (src/control/verdicts.ts): dialing below this share of the limit is stalled */
  stallAdmitShare: 0.5,
  /** any minute in which a dialer ran without Redis */
  redisDegradedCount: 0,
  periodSeconds: 60,
  evaluationPeriods: 5,
  datapointsToAlarm: 3,
} as const

/**
 * SIP trunk address ranges, comma-separated, read at deploy time: `SIP_TRUNK_CIDRS=203.0.113.0/24`.
 * Unset = no inbound SIP/RTP rule at all (a closed default rather than the internet on 5060).
 */
export function sipTrunkCidrs(raw = process.env.SIP_TRUNK_CIDRS ?? ''): string[] {
  const cidrs = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const cidr of cidrs) {
    const [ip, bits] = cidr.split('/')
    const octets = (ip ?? '').split('.').map(Number)
    const valid =
      /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) && octets.every((o) => o <= 255) && Number(bits) <= 32
    if (!valid)
      throw new Error(
        `SIP_TRUNK_CIDRS: "${cidr}" is not an IPv4 CIDR; set it like SIP_TRUNK_CIDRS=203.0.113.0/24,198.51.100.7/32`,
      )
  }
  return cidrs
}

/** The AWS X-Ray daemon the worker's sidecar runs (public ECR, maintained by AWS) and its UDP port. */
export const XRAY_DAEMON_IMAGE = 'public.ecr.aws/xray/aws-xray-daemon:3.3.13'
export const XRAY_DAEMON_PORT = 2000

/**
 * The share (0..1) of dispatched tasks X-Ray traces, read at deploy time:
 * `DIALCTL_TRACE_SAMPLE_RATE=0.01`. Unset: DEFAULT_TRACE_SAMPLE_RATE (5 %; cost in docs/tracing.md).
 * @throws Error naming the variable when it is not a number in 0..1
 */
export function traceSampleRate(raw = process.env.DIALCTL_TRACE_SAMPLE_RATE ?? ''): string {
  if (raw.trim() === '') return String(DEFAULT_TRACE_SAMPLE_RATE)
  const rate = Number(raw)
  if (!Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new Error(
      `DIALCTL_TRACE_SAMPLE_RATE: "${raw}" is not a share in 0..1; set it like DIALCTL_TRACE_SAMPLE_RATE=0.05`,
    )
  return String(rate)
}
