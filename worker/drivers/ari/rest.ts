import type { z } from 'zod'
import { describeZodError } from '../../../src/contracts/errors.js'
import { Channel, Playback } from './events.js'

/**
 * The REST half of the ARI client: fetch + Basic auth for the few calls the driver makes, each
 * answer checked against its documented shape. The events WebSocket is in client.ts (AriClient
 * extends this class).
 */

export interface AriRestConfig {
  /** e.g. http://asterisk:8088 — "/ari" is appended unless the URL already ends with it */
  url: string
  username: string
  password: string
  /** the Stasis application name; registered by opening the events WebSocket */
  app: string
  /** per REST request */
  requestTimeoutMs?: number
}

export class AriHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`ARI ${method} ${path} answered ${status}${detail ? `: ${detail}` : ''}`)
    this.name = 'AriHttpError'
  }
}

export interface OriginateParams {
  endpoint: string
  app: string
  appArgs?: string
  callerId?: string
  /** seconds to ring; Asterisk gives up after it */
  timeout?: number
  variables?: Record<string, string>
  otherChannelId?: string
}

export function ariBaseUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '')
  return trimmed.endsWith('/ari') ? trimmed : `${trimmed}/ari`
}

export class AriRest {
  protected readonly base: string
  protected readonly requestTimeoutMs: number
  private readonly auth: string

  constructor(protected readonly config: AriRestConfig) {
    this.base = ariBaseUrl(config.url)
    this.auth = 'Basic ' + Buffer.from(`${config.username}:${config.password}`).toString('base64')
    this.requestTimeoutMs = config.requestTimeoutMs ?? 5_000
  }

  /** POST /channels/{channelId}: originate with our id, so events map back without a lookup. */
  async originate(channelId: string, params: OriginateParams): Promise<Channel> {
    const query: Record<string, string> = { endpoint: params.endpoint, app: params.app }
    if (params.appArgs !== undefined) query.appArgs = params.appArgs
    if (params.callerId !== undefined) query.callerId = params.callerId
    if (params.timeout !== undefined) query.timeout = String(params.timeout)
    if (params.otherChannelId !== undefined) query.otherChannelId = params.otherChannelId
    const body = await this.request('POST', `/channels/${encodeURIComponent(channelId)}`, query, {
      variables: params.variables ?? {},
    })
    return parseOr(Channel, body, 'originate response')
  }

  /** GET /channels/{channelId}; undefined when the channel is gone (404). */
  async getChannel(channelId: string): Promise<Channel | undefined> {
    try {
      const body = await this.request('GET', `/channels/${encodeURIComponent(channelId)}`)
      return parseOr(Channel, body, 'channel')
    } catch (error) {
      if (error instanceof AriHttpError && error.status === 404) return undefined
      throw error
    }
  }

  async answer(channelId: string): Promise<void> {
    await this.request('POST', `/channels/${encodeURIComponent(channelId)}/answer`)
  }

  /** POST /channels/{channelId}/play/{playbackId}; `media` is a list of ARI media URIs. */
  async play(channelId: string, playbackId: string, media: string[]): Promise<Playback> {
    const body = await this.request(
      'POST',
      `/channels/${encodeURIComponent(channelId)}/play/${encodeURIComponent(playbackId)}`,
      { media: media.join(',') },
    )
    return parseOr(Playback, body, 'play response')
  }

  /**
   * POST /channels/{channelId}/continue: the channel leaves Stasis (StasisEnd) and runs the
   * dialplan at context/extension/priority (used to run AMD() on an answered call).
   */
  async continueInDialplan(
    channelId: string,
    target: { context: string; extension: string; priority: number },
  ): Promise<void> {
    await this.request('POST', `/channels/${encodeURIComponent(channelId)}/continue`, {
      context: target.context,
      extension: target.extension,
      priority: String(target.priority),
    })
  }

  /**
   * POST /applications/{app}/subscription?eventSource=channel:{id}: an explicit subscription keeps
   * the channel's events (ChannelVarset, ChannelDestroyed) coming while it is outside Stasis.
   */
  async subscribeChannel(channelId: string): Promise<void> {
    await this.request('POST', `/applications/${encodeURIComponent(this.config.app)}/subscription`, {
      eventSource: `channel:${channelId}`,
    })
  }

  /** GET /playbacks/{id}; undefined once the playback is over (404). */
  async getPlayback(playbackId: string): Promise<Playback | undefined> {
    try {
      const body = await this.request('GET', `/playbacks/${encodeURIComponent(playbackId)}`)
      return parseOr(Playback, body, 'playback')
    } catch (error) {
      if (error instanceof AriHttpError && error.status === 404) return undefined
      throw error
    }
  }

  /** DELETE /channels/{channelId}; false when the channel was already gone (404). */
  async hangup(channelId: string, reason: { reasonCode?: number; reason?: string } = {}): Promise<boolean> {
    const query: Record<string, string> = {}
    if (reason.reasonCode !== undefined) query.reason_code = String(reason.reasonCode)
    else if (reason.reason !== undefined) query.reason = reason.reason
    try {
      await this.request('DELETE', `/channels/${encodeURIComponent(channelId)}`, query)
      return true
    } catch (error) {
      if (error instanceof AriHttpError && error.status === 404) return false
      throw error
    }
  }

  async listChannels(): Promise<Channel[]> {
    const body = await this.request('GET', '/channels')
    const parsed = Channel.array().safeParse(body)
    if (!parsed.success)
      throw new Error(`ARI channel list is not a list of channels: ${describeZodError(parsed.error)}`)
    return parsed.data
  }

  /** The next step for a 401: the variables and the ari.conf section that must agree. */
  protected credentialsHint(): string {
    return (
      `Asterisk refused ARI user "${this.config.username}": set ARI_USER / ARI_PASSWORD to a user defined ` +
      `in ari.conf as a [${this.config.username}] section with type = user and the same password ` +
      '(and enabled = yes in [general]), then restart the worker'
    )
  }

  private async request(
    method: string,
    path: string,
    query: Record<string, string> = {},
    body?: unknown,
  ): Promise<unknown> {
    const qs = new URLSearchParams(query).toString()
    const url = `${this.base}${path}${qs ? `?${qs}` : ''}`
    let response: Response
    try {
      response = await fetch(url, {
        method,
        headers: {
          Authorization: this.auth,
          Accept: 'application/json',
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      })
    } catch (error) {
      const cause = error instanceof Error ? error.message : String(error)
      throw new AriHttpError(method, path, 0, `cannot reach ARI at ${this.base} (${cause}); check ARI_URL`)
    }
    const text = await response.text()
    if (!response.ok)
      throw new AriHttpError(method, path, response.status, this.errorDetail(response.status, text))
    if (!text) return undefined
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new AriHttpError(method, path, response.status, 'answer is not JSON')
    }
  }

  /** Asterisk's own words for a refused request: its JSON `message`/`error`, else the body as is. */
  private errorDetail(status: number, text: string): string {
    let detail = text
    try {
      const json = JSON.parse(text) as { message?: unknown; error?: unknown }
      detail = String(json.message ?? json.error ?? text)
    } catch {
      // Asterisk answers plain text for some errors; keep it as is
    }
    if (status === 401) detail = `${detail || 'unauthorized'}; ${this.credentialsHint()}`
    return detail.trim()
  }
}

function parseOr<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success)
    throw new Error(`ARI ${what} does not match the documented shape: ${describeZodError(parsed.error)}`)
  return parsed.data
}
