import { z } from 'zod'
import { callIdFor, DialCommand, type EnrichedDialTask } from '../contracts/index.js'
import { maskPhonesIn } from '../observability/mask.js'

export const DEFAULT_WORKER_TIMEOUT_MS = 5000

/** How the worker answered one POST /dial. */
export type WorkerDialResult =
  /** 202: the worker placed (or is placing) the call */
  | { kind: 'accepted'; status: number; callId: string }
  /** 200 {duplicate:true}: this (campaign, contact, attempt) was dialed already */
  | { kind: 'duplicate'; status: number; callId: string }
  /** 429 / 503: worker or campaign at capacity, or draining: retry later, not an error */
  | { kind: 'busy'; status: number; message: string }
  /** the dial gate refused for good (409: blacklisted, paused, window closed, stale …): not retried */
  | { kind: 'refused'; status: number; reason: string }
  /** timeout, network error, 5xx, or a 4xx that says our request or token is wrong */
  | { kind: 'error'; status?: number; message: string }

export interface WorkerClient {
  dial(command: DialCommand): Promise<WorkerDialResult>
}

export interface WorkerClientOptions {
  /** base URL, e.g. http://worker.internal:8080 */
  url: string
  /** sent as `Authorization: Bearer <token>` */
  token: string
  timeoutMs?: number
  fetch?: typeof fetch
}

/** The DialCommand of a task (seed "Dial Command"), with the deterministic call id and the attempt. */
export function dialCommandFor(task: EnrichedDialTask): DialCommand {
  const config = task.campaign.config
  return DialCommand.parse({
    callId: callIdFor(task),
    phoneNumber: task.phoneNumber,
    campaignId: task.campaignId,
    contactId: task.contactId,
    audioFileUrl: config.audioFileUrl,
    ivrFlow: config.ivrFlow,
    metadata: task.metadata ?? {},
    attempt: task.attempts,
    ...(config.callerId ? { callerId: config.callerId } : {}),
    maxConcurrentCalls: config.maxConcurrentCalls,
  })
}

const AcceptedBody = z.object({ callId: z.string().optional(), duplicate: z.boolean().optional() }).loose()
const ErrorBody = z
  .object({ error: z.string().optional(), message: z.string().optional(), reason: z.string().optional() })
  .loose()

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    return { message: text.slice(0, 200) }
  }
}

export function createWorkerClient(options: WorkerClientOptions): WorkerClient {
  const endpoint = new URL('/dial', options.url).toString()
  const timeoutMs = options.timeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS
  const doFetch = options.fetch ?? fetch
  return {
    async dial(command) {
      let res: Response
      let body: unknown
      try {
        res = await doFetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
          body: JSON.stringify(command),
          signal: AbortSignal.timeout(timeoutMs),
        })
        body = await readBody(res)
      } catch (error) {
        const e = error as Error & { cause?: { code?: string } }
        const message =
          e.name === 'TimeoutError' || e.name === 'AbortError'
            ? `worker did not answer POST /dial within ${timeoutMs} ms`
            : `worker unreachable at ${endpoint}: ${e.cause?.code ?? e.message}`
        return { kind: 'error', message }
      }
      if (res.status === 200 || res.status === 201 || res.status === 202) {
        const ok = AcceptedBody.safeParse(body)
        const callId = (ok.success && ok.data.callId) || command.callId
        if (ok.success && ok.data.duplicate === true) return { kind: 'duplicate', status: res.status, callId }
        return { kind: 'accepted', status: res.status, callId }
      }
      const err = ErrorBody.safeParse(body)
      const detail = maskPhonesIn(
        err.success ? [err.data.error, err.data.message].filter(Boolean).join(': ') : '',
      )
      if (res.status === 409)
        // the dial gate's recorded reason (`<code>: <detail>`), or the bare code of an older worker
        return {
          kind: 'refused',
          status: 409,
          reason: maskPhonesIn((err.success && (err.data.reason ?? err.data.error)) || 'refused'),
        }
      if (res.status === 429 || res.status === 503)
        return { kind: 'busy', status: res.status, message: detail || `worker answered ${res.status}` }
      const hint =
        res.status === 401 || res.status === 403
          ? '; check WORKER_TOKEN matches the worker'
          : res.status === 400
            ? '; the DialCommand was refused, see the worker log'
            : ''
      return {
        kind: 'error',
        status: res.status,
        message: `worker answered ${res.status} ${detail}${hint}`.trim(),
      }
    },
  }
}
