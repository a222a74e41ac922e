import WebSocket from 'ws'
import { describeZodError } from '../../../src/contracts/errors.js'
import { createLogger, type Logger } from '../../../src/observability/logger.js'
import { AriEvent, KNOWN_EVENT_TYPES, channelIdOf } from './events.js'
import { AriRest, type AriRestConfig } from './rest.js'

/**
 * A thin typed ARI client: the REST calls the driver makes (inherited from AriRest, rest.ts) and
 * the events WebSocket with reconnect, heartbeat and per-channel routing (here). We do not use
 * `ari-client` (unmaintained since 2020, runtime Swagger discovery, per-channel listeners that
 * leak): the surface we need is small and typed here.
 */

export interface AriClientConfig extends AriRestConfig {
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; factor?: number }
  /** WebSocket ping interval; a missing pong by the next ping means the link is dead. 0 disables */
  heartbeatMs?: number
  logger?: Logger
}

export type AriConnectionState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'disconnected'
  | 'replaced'
  /** Asterisk refused the credentials (401): retried with backoff, but it will not fix itself */
  | 'unauthorized'
  | 'closed'

type Listener<T> = (value: T) => void

export class AriClient extends AriRest {
  private readonly log: Logger
  private readonly initialDelayMs: number
  private readonly maxDelayMs: number
  private readonly factor: number
  private readonly heartbeatMs: number

  private ws: WebSocket | undefined
  private refused: string | undefined
  private currentState: AriConnectionState = 'idle'
  private attempt = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private readonly stateListeners = new Set<Listener<AriConnectionState>>()
  private readonly eventListeners = new Set<Listener<AriEvent>>()
  private readonly channelListeners = new Map<string, Set<Listener<AriEvent>>>()

  constructor(config: AriClientConfig) {
    super(config)
    this.log = config.logger ?? createLogger('ari-client')
    this.initialDelayMs = config.reconnect?.initialDelayMs ?? 250
    this.maxDelayMs = config.reconnect?.maxDelayMs ?? 10_000
    this.factor = config.reconnect?.factor ?? 2
    this.heartbeatMs = config.heartbeatMs ?? 10_000
  }

  get state(): AriConnectionState {
    return this.currentState
  }

  /** true while the events WebSocket is open: without events the driver cannot follow a call */
  healthy(): boolean {
    return this.currentState === 'connected'
  }

  /** Opens the events WebSocket and keeps it open (reconnecting with backoff) until close(). */
  start(): void {
    if (this.currentState !== 'idle') return
    this.connect()
  }

  /** What to fix when Asterisk refused our credentials (set on a 401, cleared once connected). */
  get refusal(): string | undefined {
    return this.refused
  }

  /** Resolves true once connected, false after timeoutMs, when closed, or when credentials are refused. */
  waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.healthy()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off()
        resolve(false)
      }, timeoutMs)
      const off = this.onStateChange((state) => {
        if (state === 'connected' || state === 'closed' || state === 'unauthorized') {
          clearTimeout(timer)
          off()
          resolve(state === 'connected')
        }
      })
    })
  }

  async close(): Promise<void> {
    this.setState('closed')
    clearTimeout(this.reconnectTimer)
    this.stopHeartbeat()
    const ws = this.ws
    this.ws = undefined
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          ws.terminate()
          resolve()
        }, 1_000)
        ws.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
        ws.close()
      })
    }
    this.channelListeners.clear()
    this.eventListeners.clear()
  }

  onStateChange(listener: Listener<AriConnectionState>): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /** Every parsed event, before the per-channel listeners. */
  onEvent(listener: Listener<AriEvent>): () => void {
    this.eventListeners.add(listener)
    return () => this.eventListeners.delete(listener)
  }

  /**
   * Events about one channel (playback events included, by their target). All listeners of a
   * channel are dropped after its ChannelDestroyed, so a long-running worker does not accumulate them.
   */
  onChannel(channelId: string, listener: Listener<AriEvent>): () => void {
    let set = this.channelListeners.get(channelId)
    if (!set) {
      set = new Set()
      this.channelListeners.set(channelId, set)
    }
    set.add(listener)
    return () => {
      const current = this.channelListeners.get(channelId)
      if (!current) return
      current.delete(listener)
      if (current.size === 0) this.channelListeners.delete(channelId)
    }
  }

  /** For tests and /health detail: listeners per channel still registered. */
  channelListenerCount(channelId?: string): number {
    if (channelId !== undefined) return this.channelListeners.get(channelId)?.size ?? 0
    let total = 0
    for (const set of this.channelListeners.values()) total += set.size
    return total
  }

  // ---- events WebSocket -----------------------------------------------------------------------

  private eventsUrl(): string {
    const wsBase = this.base.replace(/^http/, 'ws')
    const qs = new URLSearchParams({
      app: this.config.app,
      api_key: `${this.config.username}:${this.config.password}`,
    })
    return `${wsBase}/events?${qs.toString()}`
  }

  private connect(): void {
    if (this.currentState === 'closed') return
    this.setState('connecting')
    const ws = new WebSocket(this.eventsUrl(), { handshakeTimeout: this.requestTimeoutMs })
    this.ws = ws
    let replaced = false

    ws.on('open', () => {
      if (this.ws !== ws) return
      this.attempt = 0
      this.refused = undefined
      this.startHeartbeat(ws)
      this.log.info('ARI events connected', { app: this.config.app })
      this.setState('connected')
    })
    ws.on('message', (data) => {
      if (this.ws !== ws) return
      const event = this.parse(data.toString())
      if (!event) return
      if (event.type === 'ApplicationReplaced') {
        replaced = true
        this.log.error(
          `another ARI connection took over the Stasis app "${this.config.app}"; each worker needs its own ARI_APP`,
          { app: this.config.app },
        )
      }
      this.dispatch(event)
      if (replaced) ws.close()
    })
    let unauthorized = false
    ws.on('unexpected-response', (_req, res) => {
      // Asterisk answers the upgrade with 401 on bad credentials, 503 while starting up.
      if (res.statusCode === 401) {
        unauthorized = true
        this.refused = this.credentialsHint()
        this.log.error(`ARI events upgrade refused with 401: ${this.refused}`, { url: this.base })
      } else {
        this.log.warn('ARI events upgrade refused', { status: res.statusCode })
      }
      ws.terminate()
    })
    ws.on('pong', () => {
      ;(ws as WebSocket & { dialctlAlive?: boolean }).dialctlAlive = true
    })
    ws.on('error', (error) => {
      this.log.debug('ARI events socket error', { error: error.message })
    })
    ws.on('close', () => {
      if (this.ws !== ws) return
      this.ws = undefined
      this.stopHeartbeat()
      if (this.currentState === 'closed') return
      this.setState(replaced ? 'replaced' : unauthorized ? 'unauthorized' : 'disconnected')
      // Refused credentials do not fix themselves quickly: retry at the slow pace.
      this.scheduleReconnect(replaced || unauthorized)
    })
  }

  private scheduleReconnect(slow: boolean): void {
    // Replaced: reconnecting at once would steal the app back and ping-pong with the other
    // connection, so wait the longest delay; otherwise exponential backoff with jitter.
    const raw = slow
      ? this.maxDelayMs
      : Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** this.attempt)
    const delay = Math.round(raw * (0.8 + Math.random() * 0.4))
    this.attempt++
    this.log.info('ARI events reconnecting', { delayMs: delay, attempt: this.attempt })
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => this.connect(), delay)
  }

  private startHeartbeat(ws: WebSocket): void {
    this.stopHeartbeat()
    if (this.heartbeatMs <= 0) return
    const tracked = ws as WebSocket & { dialctlAlive?: boolean }
    tracked.dialctlAlive = true
    this.heartbeatTimer = setInterval(() => {
      if (!tracked.dialctlAlive) {
        this.log.warn('ARI events socket missed a heartbeat; reconnecting')
        ws.terminate()
        return
      }
      tracked.dialctlAlive = false
      ws.ping()
    }, this.heartbeatMs)
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
  }

  private parse(text: string): AriEvent | undefined {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      this.log.warn('ARI sent a message that is not JSON; ignored')
      return undefined
    }
    const type = (json as { type?: unknown } | null)?.type
    if (typeof type !== 'string' || !KNOWN_EVENT_TYPES.has(type)) return undefined
    const parsed = AriEvent.safeParse(json)
    if (!parsed.success) {
      this.log.warn('ARI event does not match the documented shape; ignored', {
        type,
        issues: describeZodError(parsed.error),
      })
      return undefined
    }
    return parsed.data
  }

  private dispatch(event: AriEvent): void {
    for (const listener of [...this.eventListeners]) this.safeCall(listener, event)
    const channelId = channelIdOf(event)
    if (channelId === undefined) return
    const set = this.channelListeners.get(channelId)
    if (set) for (const listener of [...set]) this.safeCall(listener, event)
    if (event.type === 'ChannelDestroyed') this.channelListeners.delete(channelId)
  }

  private safeCall<T>(listener: Listener<T>, value: T): void {
    try {
      listener(value)
    } catch (error) {
      this.log.error('ARI listener threw', { error: error instanceof Error ? error.message : String(error) })
    }
  }

  private setState(state: AriConnectionState): void {
    if (this.currentState === state) return
    if (this.currentState === 'closed') return
    this.currentState = state
    for (const listener of [...this.stateListeners]) this.safeCall(listener, state)
  }
}
