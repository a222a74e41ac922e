import { z } from 'zod'
import { describeZodError } from '../../../src/contracts/errors.js'

export const AriDriverConfig = z.object({
  /** ARI base, e.g. http://asterisk:8088 ("/ari" appended unless present) */
  url: z.url({ protocol: /^https?$/, error: 'must be the ARI base URL, e.g. http://asterisk:8088' }),
  username: z.string({ error: 'must name the ari.conf user' }).min(1, 'must name the ari.conf user'),
  password: z
    .string({ error: "must be the ari.conf user's password" })
    .min(1, "must be the ari.conf user's password"),
  /** Stasis application name; one per worker (a second connection replaces the first) */
  app: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a Stasis app name: letters, digits, _ . -'),
  /** dial string; {number} = E.164 with "+", {digits} = without it. e.g. PJSIP/{digits}@trunk */
  endpointTemplate: z.string().refine((t) => t.includes('{number}') || t.includes('{digits}'), {
    message: 'must contain {number} or {digits}, e.g. PJSIP/{digits}@trunk or Local/{digits}@dialctl-out',
  }),
  callerId: z.string().min(1).optional(),
  /** used when a request gives no usable ring timeout */
  ringTimeoutSeconds: z.number().int().positive().max(300).optional(),
  /** safety net on top of the worker's own caps: originate refuses beyond it */
  maxChannels: z.number().int().positive().optional(),
  reconnect: z
    .object({
      initialDelayMs: z.number().positive().optional(),
      maxDelayMs: z.number().positive().optional(),
      factor: z.number().min(1).optional(),
    })
    .optional(),
  heartbeatMs: z.number().nonnegative().optional(),
  requestTimeoutMs: z.number().positive().optional(),
  /** extra time after the ring timeout before we hang up ourselves (Asterisk normally ends it first) */
  ringGraceMs: z.number().nonnegative().optional(),
  /** how long hangup() waits for ChannelDestroyed */
  hangupWaitMs: z.number().nonnegative().optional(),
  /**
   * ARI unreachable this long: every call in progress is given up (ringing → failed, answered →
   * ended), so the IVR and the recorder move on even if Asterisk never comes back
   */
  disconnectGraceMs: z.number().nonnegative().optional(),
  /**
   * dialplan context an answered call is sent to when the campaign asks for AMD: it runs AMD()
   * and returns to Stasis with the verdict (docs/asterisk.md, "Answering-machine detection")
   */
  amdContext: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a dialplan context name')
    .optional(),
  /** bound on AMD (and, for voicemail, the wait for the beep) before the call is given up */
  amdTimeoutMs: z.number().positive().optional(),
})
export type AriDriverConfig = z.input<typeof AriDriverConfig>

const ENV_NAMES: Record<string, string> = {
  url: 'ARI_URL',
  username: 'ARI_USER',
  password: 'ARI_PASSWORD',
  app: 'ARI_APP',
  endpointTemplate: 'ARI_ENDPOINT_TEMPLATE',
  callerId: 'ARI_CALLER_ID',
  ringTimeoutSeconds: 'ARI_RING_TIMEOUT_SECONDS',
  maxChannels: 'ARI_MAX_CHANNELS',
  amdContext: 'ARI_AMD_CONTEXT',
}

/**
 * The default Stasis app name of a worker: `dialctl-<workerId>`, characters outside ARI's app
 * name set replaced. Asterisk gives an app to the newest WebSocket that names it, so two workers
 * sharing a name steal it from each other (ApplicationReplaced every reconnect); one per worker
 * makes that impossible, and a restarted worker (same WORKER_ID) finds its predecessor's channels.
 */
export function defaultAriApp(workerId: string): string {
  return `dialctl-${workerId.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 80)
}

/**
 * The driver's config from the worker's environment. Errors name the variable to set:
 * "ARI_URL: must be the ARI base URL, e.g. http://asterisk:8088". ARI_APP defaults to
 * defaultAriApp(workerId) when a worker id is given, else "dialctl".
 */
export function ariConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: { workerId?: string } = {},
): AriDriverConfig {
  const number = (value: string | undefined): number | undefined =>
    value === undefined || value === '' ? undefined : Number(value)
  const raw = {
    url: env.ARI_URL,
    username: env.ARI_USER,
    password: env.ARI_PASSWORD,
    app: env.ARI_APP || (options.workerId ? defaultAriApp(options.workerId) : 'dialctl'),
    endpointTemplate: env.ARI_ENDPOINT_TEMPLATE,
    callerId: env.ARI_CALLER_ID || undefined,
    ringTimeoutSeconds: number(env.ARI_RING_TIMEOUT_SECONDS),
    maxChannels: number(env.ARI_MAX_CHANNELS),
    amdContext: env.ARI_AMD_CONTEXT || undefined,
  }
  const parsed = AriDriverConfig.safeParse(raw)
  if (!parsed.success) {
    const described = describeZodError(parsed.error).replace(
      /(^|; )([A-Za-z]+)(?=:)/g,
      (_m, sep: string, key: string) => `${sep}${ENV_NAMES[key] ?? key}`,
    )
    throw new Error(`ARI driver configuration: ${described}`)
  }
  return parsed.data
}
