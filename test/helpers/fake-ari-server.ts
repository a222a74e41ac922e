import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

/**
 * An in-process Asterisk, as far as ARI shows it: the documented REST paths (channels.json,
 * playbacks.json) and event shapes (events.json) the driver uses, with scriptable callees.
 * Not a SIP stack: a "call" is a script of timed events on one channel.
 */

export type CalleeScript =
  /**
   * rings, answers after `afterMs`, presses `digits` (`afterMs` after answer, or with `from:
   * 'prompt'` after the first prompt on the channel starts playing — a person answering what they
   * heard, whatever ran before it, e.g. AMD), maybe hangs up
   */
  | {
      kind: 'answer'
      afterMs?: number
      digits?: Array<{ digit: string; afterMs: number; from?: 'answer' | 'prompt' }>
      /** the callee hangs up this long after answering */
      hangupAfterMs?: number
      /**
       * what AMD() concludes when the driver continues the answered channel into the documented
       * `dialctl-amd` context (docs/asterisk.md): ChannelVarset AMDSTATUS and AMDCAUSE, then
       * StasisStart back in ${DIALCTL_ARI_APP} with args [amd, status, cause], `afterMs` later
       * (default 5). Without it AMD hears a person: HUMAN.
       */
      amd?: { status: 'HUMAN' | 'MACHINE' | 'NOTSURE'; cause?: string; afterMs?: number }
    }
  /**
   * rings, then the far end runs Busy(): Dial BUSY, then ChannelDestroyed with cause 0 "Unknown"
   * on our channel — recorded from Asterisk 22 (busy-via-Busy-app.jsonl)
   */
  | { kind: 'busy'; afterMs?: number }
  /** the far end runs Congestion(): Dial CONGESTION, ChannelDestroyed cause 0 (congestion-via-Congestion-app.jsonl) */
  | { kind: 'congestion'; afterMs?: number }
  /** ends before answer with this Q.850 cause and dial status */
  | { kind: 'reject'; cause: number; causeTxt?: string; dialStatus?: string; afterMs?: number }
  /**
   * never answers; Asterisk gives up after the originate timeout (cause 19, NOANSWER) unless
   * `ignoreTimeout`, in which case it rings until someone hangs it up
   */
  | { kind: 'no-answer'; ignoreTimeout?: boolean }

export interface FakeAriOptions {
  username?: string
  password?: string
  /** how long a playback lasts before PlaybackFinished */
  playbackMs?: number
  /** media URIs for which PlaybackFinished reports state "failed" (file missing, bad URL) */
  failMedia?: (mediaUri: string) => boolean
}

interface FakeChannel {
  id: string
  name: string
  state: string
  app: string
  appArgs: string[]
  endpoint: string
  number: string
  callerId?: string
  variables: Record<string, string>
  inStasis: boolean
  creationtime: string
  timers: NodeJS.Timeout[]
  dialStatus: string
  script?: CalleeScript
  /** the script's `from: 'prompt'` digits were scheduled (at the first PlaybackStarted) */
  promptDigitsPressed?: boolean
  /** dialplan location while outside Stasis (after /continue) */
  context?: string
}

interface FakePlayback {
  id: string
  media_uri: string
  target_uri: string
  language: string
  state: string
  timer?: NodeJS.Timeout
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  body: unknown
}

const CAUSE_TXT: Record<number, string> = {
  16: 'Normal Clearing',
  17: 'User busy',
  18: 'No user responding',
  19: 'User alerting, no answer',
  21: 'Call Rejected',
  34: 'Circuit/channel congestion',
}

export class FakeAriServer {
  readonly requests: RecordedRequest[] = []
  /** every event sent, in order, with the channel it concerned */
  readonly sentEvents: Array<Record<string, unknown>> = []
  private readonly http: Server
  private readonly wss: WebSocketServer
  private readonly sockets = new Map<WebSocket, string>()
  private readonly channels = new Map<string, FakeChannel>()
  private readonly playbacks = new Map<string, FakePlayback>()
  private readonly scripts = new Map<string, CalleeScript>()
  /** "<app>:<channelId>" explicit subscriptions (POST /applications/{app}/subscription) */
  readonly subscriptions = new Set<string>()
  private defaultScript: CalleeScript = { kind: 'answer', afterMs: 20 }
  private down = false
  private refusalWaiters: (() => void)[] = []
  private port = 0
  private seq = 0
  readonly username: string
  readonly password: string

  constructor(private readonly options: FakeAriOptions = {}) {
    this.username = options.username ?? 'dialctl'
    this.password = options.password ?? 'secret'
    this.http = createServer((req, res) => void this.handle(req, res))
    this.wss = new WebSocketServer({ noServer: true })
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const refuse = (status: number, text: string) => {
        socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
        socket.destroy()
      }
      if (this.down) {
        this.refusedWhileDown()
        return refuse(503, 'Service Unavailable')
      }
      if (url.pathname !== '/ari/events') return refuse(404, 'Not Found')
      if (url.searchParams.get('api_key') !== `${this.username}:${this.password}`)
        return refuse(401, 'Unauthorized')
      const app = url.searchParams.get('app')
      if (!app) return refuse(400, 'Bad Request')
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        // One WebSocket per application: the newer one wins, the older gets ApplicationReplaced.
        for (const [other, otherApp] of this.sockets) {
          if (otherApp === app) {
            other.send(JSON.stringify(this.event('ApplicationReplaced', app, {})))
            this.sockets.delete(other)
          }
        }
        this.sockets.set(ws, app)
        ws.on('close', () => this.sockets.delete(ws))
      })
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.http.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.http.address() as AddressInfo).port
    return this
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** the script for calls whose endpoint contains `number` (E.164 or digits) */
  onNumber(number: string, script: CalleeScript): this {
    this.scripts.set(number.replace(/^\+/, ''), script)
    return this
  }

  setDefault(script: CalleeScript): this {
    this.defaultScript = script
    return this
  }

  connectedApps(): string[] {
    return [...this.sockets.values()]
  }

  channelIds(): string[] {
    return [...this.channels.keys()]
  }

  channel(id: string): Readonly<FakeChannel> | undefined {
    return this.channels.get(id)
  }

  /** The callee presses a key now (on an answered channel). */
  pressDigit(channelId: string, digit: string): void {
    const ch = this.channels.get(channelId)
    // Asterisk sends an application the events of channels in it: a digit pressed while the
    // channel runs dialplan (AMD) reaches no one
    if (ch && ch.state === 'Up' && ch.inStasis)
      this.emit(ch.app, 'ChannelDtmfReceived', { digit, duration_ms: 120, channel: this.snapshot(ch) })
  }

  /** The callee hangs up now. */
  calleeHangup(channelId: string, cause = 16): void {
    const ch = this.channels.get(channelId)
    if (ch) this.destroy(ch, cause, { hangupRequest: true })
  }

  /**
   * Asterisk restarts: every WebSocket dropped, every channel gone, REST and WebSocket refused (503)
   * until `until` settles — by default until a client has been refused once (it noticed and tried
   * to come back: a condition, not a duration) — then back with no channels. `graceful` (`core restart now`): before the sockets
   * close, each channel gets what Asterisk 22 sends (asterisk-restart-while-*.jsonl): a soft
   * hang-up request with flag 4 (SHUTDOWN), Dial NOANSWER if it was ringing, a hang-up request
   * cause 0, StasisEnd, its playback finished "failed", ChannelDestroyed cause 0. Otherwise the
   * process died (kill -9): no event at all.
   */
  async restart(options: { graceful?: boolean; until?: Promise<unknown> } = {}): Promise<void> {
    if (options.graceful) {
      for (const ch of [...this.channels.values()]) {
        for (const t of ch.timers) clearTimeout(t)
        this.emit(ch.app, 'ChannelHangupRequest', { cause: 4, soft: true, channel: this.snapshot(ch) })
        if (ch.state !== 'Up') {
          ch.dialStatus = 'NOANSWER'
          this.emit(ch.app, 'Dial', {
            peer: this.snapshot(ch),
            dialstring: ch.endpoint,
            dialstatus: 'NOANSWER',
          })
        }
        this.destroy(ch, 0, { hangupRequest: true, causeTxt: 'Unknown' })
      }
    }
    this.down = true
    for (const ch of this.channels.values()) for (const t of ch.timers) clearTimeout(t)
    for (const pb of this.playbacks.values()) clearTimeout(pb.timer)
    this.channels.clear()
    this.playbacks.clear()
    for (const ws of this.sockets.keys()) ws.terminate()
    this.sockets.clear()
    await (options.until ?? this.nextRefusal())
    this.down = false
  }

  /** Resolves at the next request or upgrade refused because Asterisk is down (bounded: 10 s). */
  private nextRefusal(timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`fake ARI: no client tried to reconnect within ${timeoutMs} ms of the restart`)),
        timeoutMs,
      )
      this.refusalWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** A request or upgrade was refused while down: wakes restart()'s wait. */
  private refusedWhileDown(): void {
    const waiters = this.refusalWaiters
    this.refusalWaiters = []
    for (const w of waiters) w()
  }

  /**
   * A network partition between worker and Asterisk: WebSockets dropped, REST and upgrades refused
   * (503) until `partition(false)`; channels and their timers live on (their events are lost).
   */
  partition(on: boolean): void {
    this.down = on
    if (on) this.dropSockets()
  }

  /**
   * A channel already inside Stasis app `app` (answered: state Up), as a previous worker process
   * left it: no event is sent now; GET /channels lists it with dialplan app_name "Stasis".
   */
  placeInApp(app: string, id: string, state = 'Up', number = '972500000000'): void {
    this.channels.set(id, {
      id,
      name: `Local/${number}@callee-${(++this.seq).toString(16).padStart(8, '0')};1`,
      state,
      app,
      appArgs: ['dialctl'],
      endpoint: `Local/${number}@callee`,
      number,
      variables: {},
      inStasis: state === 'Up',
      creationtime: new Date().toISOString(),
      timers: [],
      dialStatus: state === 'Up' ? 'ANSWER' : '',
    })
  }

  /** Drops the WebSockets only (a network blip): channels live on. */
  dropSockets(): void {
    for (const ws of this.sockets.keys()) ws.terminate()
    this.sockets.clear()
  }

  async stop(): Promise<void> {
    for (const ch of this.channels.values()) for (const t of ch.timers) clearTimeout(t)
    for (const pb of this.playbacks.values()) clearTimeout(pb.timer)
    for (const ws of this.sockets.keys()) ws.terminate()
    this.wss.close()
    this.http.closeAllConnections()
    await new Promise<void>((resolve) => this.http.close(() => resolve()))
  }

  // ---- REST ------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString()
    let body: unknown
    try {
      body = raw ? JSON.parse(raw) : undefined
    } catch {
      return this.reply(res, 400, { message: 'Invalid JSON body' })
    }
    const query = Object.fromEntries(url.searchParams.entries())
    const method = req.method ?? 'GET'
    this.requests.push({ method, path: url.pathname, query, body })

    if (this.down) {
      this.refusedWhileDown()
      return this.reply(res, 503, { message: 'Asterisk is restarting' })
    }
    const expected = 'Basic ' + Buffer.from(`${this.username}:${this.password}`).toString('base64')
    if (req.headers.authorization !== expected)
      return this.reply(res, 401, { message: 'Authentication required' })

    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
    if (parts[0] !== 'ari') return this.reply(res, 404, { message: 'Resource not found' })
    const [, resource, id, sub, subId] = parts

    if (resource === 'channels' && !id && method === 'GET') {
      return this.reply(
        res,
        200,
        [...this.channels.values()].map((c) => this.snapshot(c)),
      )
    }
    if (resource === 'channels' && id && !sub && method === 'POST')
      return this.originate(id, query, body, res)
    if (resource === 'channels' && id && !sub && method === 'GET') {
      const ch = this.channels.get(id)
      return ch
        ? this.reply(res, 200, this.snapshot(ch))
        : this.reply(res, 404, { message: 'Channel not found' })
    }
    if (resource === 'channels' && id && !sub && method === 'DELETE') {
      const ch = this.channels.get(id)
      if (!ch) return this.reply(res, 404, { message: 'Channel not found' })
      const cause = query.reason_code ? Number(query.reason_code) : reasonToCause(query.reason)
      if (!Number.isInteger(cause))
        return this.reply(res, 400, { message: 'Invalid reason for hangup provided' })
      this.reply(res, 204)
      // Recorded: an ARI DELETE shows as a soft hang-up request with flag 32 (EXPLICIT); the
      // reason code comes back as ChannelDestroyed's cause.
      this.destroy(ch, cause, { hangupRequest: true, soft: true, requestCause: 32 })
      return
    }
    if (resource === 'channels' && id && sub === 'answer' && method === 'POST') {
      const ch = this.channels.get(id)
      if (!ch) return this.reply(res, 404, { message: 'Channel not found' })
      if (!ch.inStasis) return this.reply(res, 409, { message: 'Channel not in Stasis application' })
      this.reply(res, 204)
      if (ch.state !== 'Up') this.setState(ch, 'Up')
      return
    }
    if (resource === 'channels' && id && sub === 'continue' && method === 'POST') {
      return this.continueInDialplan(id, query, res)
    }
    if (resource === 'applications' && id && sub === 'subscription' && method === 'POST') {
      const source = query.eventSource ?? ''
      if (!source.startsWith('channel:')) return this.reply(res, 400, { message: 'Invalid event source' })
      const ch = this.channels.get(source.slice('channel:'.length))
      // Asterisk answers 422 "Event source does not exist" for a channel already gone
      if (!ch) return this.reply(res, 422, { message: 'Event source does not exist' })
      this.subscriptions.add(`${id}:${ch.id}`)
      return this.reply(res, 200, { name: id, channel_ids: [ch.id] })
    }
    if (resource === 'channels' && id && sub === 'play' && method === 'POST') {
      return this.play(id, subId ?? `pb-${++this.seq}`, query, res)
    }
    if (resource === 'playbacks' && id && method === 'GET') {
      const pb = this.playbacks.get(id)
      return pb
        ? this.reply(res, 200, this.playbackSnapshot(pb))
        : this.reply(res, 404, { message: 'Playback not found' })
    }
    return this.reply(res, 404, { message: 'Resource not found' })
  }

  private originate(id: string, query: Record<string, string>, body: unknown, res: ServerResponse): void {
    const endpoint = query.endpoint
    if (!endpoint) return this.reply(res, 400, { message: 'Endpoint parameter not provided' })
    if (!query.app) return this.reply(res, 400, { message: 'Application or extension must be specified' })
    if (this.channels.has(id))
      return this.reply(res, 409, { message: 'Channel with given unique ID already exists' })
    const match = /^(?:PJSIP|SIP|Local)\/\+?(\d+)/.exec(endpoint)
    if (!match) return this.reply(res, 400, { message: `Invalid endpoint: ${endpoint}` })
    const number = match[1]!
    const variables = ((body as { variables?: Record<string, string> } | undefined)?.variables ??
      {}) as Record<string, string>
    const ch: FakeChannel = {
      id,
      name: `${endpoint.split('@')[0]}-${(++this.seq).toString(16).padStart(8, '0')}`,
      state: 'Down',
      app: query.app,
      appArgs: query.appArgs ? query.appArgs.split(',') : [],
      endpoint,
      number,
      callerId: query.callerId,
      variables,
      inStasis: false,
      creationtime: new Date().toISOString(),
      timers: [],
      dialStatus: '',
    }
    this.channels.set(id, ch)
    this.reply(res, 200, this.snapshot(ch))

    const script = this.scripts.get(number) ?? this.defaultScript
    ch.script = script
    const timeoutS = query.timeout ? Number(query.timeout) : 30
    const later = (ms: number, fn: () => void) => ch.timers.push(setTimeout(fn, ms))
    later(1, () => {
      this.emit(ch.app, 'Dial', { peer: this.snapshot(ch), dialstring: endpoint, dialstatus: '' })
      this.setState(ch, 'Ringing')
    })
    switch (script.kind) {
      case 'answer':
        later(script.afterMs ?? 20, () => {
          ch.dialStatus = 'ANSWER'
          this.emit(ch.app, 'Dial', { peer: this.snapshot(ch), dialstring: endpoint, dialstatus: 'ANSWER' })
          this.setState(ch, 'Up')
          ch.inStasis = true
          this.emit(ch.app, 'StasisStart', { args: ch.appArgs, channel: this.snapshot(ch) })
          for (const d of script.digits ?? [])
            if (d.from !== 'prompt') later(d.afterMs, () => this.pressDigit(ch.id, d.digit))
          if (script.hangupAfterMs !== undefined)
            later(script.hangupAfterMs, () => this.calleeHangup(ch.id, 16))
        })
        return
      case 'busy':
        later(script.afterMs ?? 20, () => this.endUnanswered(ch, 0, 'BUSY', 'Unknown', false))
        return
      case 'congestion':
        later(script.afterMs ?? 20, () => this.endUnanswered(ch, 0, 'CONGESTION', 'Unknown', false))
        return
      case 'reject':
        later(script.afterMs ?? 20, () =>
          this.endUnanswered(ch, script.cause, script.dialStatus ?? 'CHANUNAVAIL', script.causeTxt),
        )
        return
      case 'no-answer':
        if (!script.ignoreTimeout && timeoutS > 0)
          later(timeoutS * 1000, () => this.endUnanswered(ch, 19, 'NOANSWER'))
        return
    }
  }

  /**
   * POST /channels/{id}/continue: the channel leaves Stasis (StasisEnd) for the dialplan. The
   * documented `dialctl-amd` context (docs/asterisk.md) runs AMD() — ChannelVarset AMDSTATUS and
   * AMDCAUSE — then Stasis(${DIALCTL_ARI_APP},amd,${AMDSTATUS},${AMDCAUSE}): StasisStart with
   * those args. Other contexts: the channel stays in the dialplan until hung up.
   */
  private continueInDialplan(id: string, query: Record<string, string>, res: ServerResponse): void {
    const ch = this.channels.get(id)
    if (!ch) return this.reply(res, 404, { message: 'Channel not found' })
    if (!ch.inStasis) return this.reply(res, 409, { message: 'Channel not in Stasis application' })
    this.reply(res, 204)
    ch.inStasis = false
    ch.context = query.context ?? 'default'
    this.emit(ch.app, 'StasisEnd', { channel: this.snapshot(ch) })
    if (ch.context !== 'dialctl-amd') return
    const script = ch.script
    const amd = (script?.kind === 'answer' ? script.amd : undefined) ?? {
      status: 'HUMAN',
      cause: 'HUMAN-1000-800',
    }
    const cause = amd.cause ?? (amd.status === 'MACHINE' ? 'LONGGREETING-2000-1500' : 'HUMAN-1000-800')
    ch.timers.push(
      setTimeout(() => {
        if (!this.channels.has(ch.id)) return
        this.emit(ch.app, 'ChannelVarset', {
          variable: 'AMDSTATUS',
          value: amd.status,
          channel: this.snapshot(ch),
        })
        this.emit(ch.app, 'ChannelVarset', { variable: 'AMDCAUSE', value: cause, channel: this.snapshot(ch) })
        ch.app = ch.variables.DIALCTL_ARI_APP ?? ch.app
        ch.appArgs = ['amd', amd.status, cause]
        ch.context = undefined
        ch.inStasis = true
        this.emit(ch.app, 'StasisStart', { args: ch.appArgs, channel: this.snapshot(ch) })
      }, amd.afterMs ?? 5),
    )
  }

  private play(
    channelId: string,
    playbackId: string,
    query: Record<string, string>,
    res: ServerResponse,
  ): void {
    const ch = this.channels.get(channelId)
    if (!ch) return this.reply(res, 404, { message: 'Channel not found' })
    if (!ch.inStasis) return this.reply(res, 409, { message: 'Channel not in Stasis application' })
    const media = query.media
    if (!media) return this.reply(res, 400, { message: 'media parameter is required' })
    if (this.playbacks.has(playbackId)) return this.reply(res, 409, { message: 'Playback ID already in use' })
    const uri = media.split(',')[0]!
    if (!/^(sound|recording|number|digits|characters|tone):/.test(uri)) {
      return this.reply(res, 400, { message: `Invalid media URI: ${uri}` })
    }
    const pb: FakePlayback = {
      id: playbackId,
      media_uri: uri,
      target_uri: `channel:${channelId}`,
      language: 'en',
      state: 'queued',
    }
    this.playbacks.set(playbackId, pb)
    this.reply(res, 201, this.playbackSnapshot(pb))
    const failed = this.options.failMedia?.(uri) ?? false
    setTimeout(() => {
      if (!this.playbacks.has(playbackId)) return
      pb.state = 'playing'
      this.emit(ch.app, 'PlaybackStarted', { playback: this.playbackSnapshot(pb) })
      this.pressPromptDigits(ch)
      pb.timer = setTimeout(
        () => this.finishPlayback(pb, failed ? 'failed' : 'done'),
        failed ? 1 : (this.options.playbackMs ?? 30),
      )
    }, 1)
  }

  /** The script's digits pressed in answer to the first prompt, once per channel. */
  private pressPromptDigits(ch: FakeChannel): void {
    if (ch.promptDigitsPressed || ch.script?.kind !== 'answer') return
    ch.promptDigitsPressed = true
    for (const d of ch.script.digits ?? [])
      if (d.from === 'prompt') ch.timers.push(setTimeout(() => this.pressDigit(ch.id, d.digit), d.afterMs))
  }

  private finishPlayback(pb: FakePlayback, state: string, channelApp?: string): void {
    if (!this.playbacks.delete(pb.id)) return
    clearTimeout(pb.timer)
    pb.state = state
    const app = channelApp ?? this.channels.get(pb.target_uri.slice('channel:'.length))?.app
    if (app) this.emit(app, 'PlaybackFinished', { playback: this.playbackSnapshot(pb) })
  }

  // ---- channel life ------------------------------------------------------------------------------

  private setState(ch: FakeChannel, state: string): void {
    ch.state = state
    this.emit(ch.app, 'ChannelStateChange', { channel: this.snapshot(ch) })
  }

  private endUnanswered(
    ch: FakeChannel,
    cause: number,
    dialStatus: string,
    causeTxt?: string,
    hangupRequest = true,
  ): void {
    ch.dialStatus = dialStatus
    this.emit(ch.app, 'Dial', { peer: this.snapshot(ch), dialstring: ch.endpoint, dialstatus: dialStatus })
    this.destroy(ch, cause, { hangupRequest, causeTxt })
  }

  private destroy(
    ch: FakeChannel,
    cause: number,
    opts: { hangupRequest?: boolean; soft?: boolean; requestCause?: number; causeTxt?: string },
  ): void {
    if (!this.channels.has(ch.id)) return
    for (const t of ch.timers) clearTimeout(t)
    if (opts.hangupRequest) {
      this.emit(ch.app, 'ChannelHangupRequest', {
        cause: opts.requestCause ?? cause,
        ...(opts.soft ? { soft: true } : {}),
        channel: this.snapshot(ch),
      })
    }
    if (ch.inStasis) {
      ch.inStasis = false
      this.emit(ch.app, 'StasisEnd', { channel: this.snapshot(ch) })
    }
    // Recorded: a playback cut by the hang-up finishes "failed", after the hang-up request.
    for (const pb of [...this.playbacks.values()]) {
      if (pb.target_uri === `channel:${ch.id}`) this.finishPlayback(pb, 'failed', ch.app)
    }
    this.channels.delete(ch.id)
    this.emit(ch.app, 'ChannelDestroyed', {
      cause,
      cause_txt: opts.causeTxt ?? CAUSE_TXT[cause] ?? 'Unknown',
      channel: this.snapshot({ ...ch, state: ch.state }),
    })
  }

  // ---- wire shapes (events.json / channels.json models) -------------------------------------------

  private snapshot(ch: FakeChannel): Record<string, unknown> {
    return {
      id: ch.id,
      name: ch.name,
      state: ch.state,
      caller: { name: '', number: ch.callerId ?? '' },
      connected: { name: '', number: ch.number },
      accountcode: '',
      dialplan: {
        context: 'default',
        exten: 's',
        priority: 1,
        // Recorded: a channel in an ARI app shows app_name "Stasis", app_data "<app>,<args>".
        app_name: ch.inStasis ? 'Stasis' : ch.context ? 'AMD' : 'AppDial2',
        app_data: ch.inStasis ? [ch.app, ...ch.appArgs].join(',') : '(Outgoing Line)',
      },
      creationtime: ch.creationtime,
      language: 'en',
    }
  }

  private playbackSnapshot(pb: FakePlayback): Record<string, unknown> {
    return {
      id: pb.id,
      media_uri: pb.media_uri,
      target_uri: pb.target_uri,
      language: pb.language,
      state: pb.state,
    }
  }

  private event(type: string, app: string, fields: Record<string, unknown>): Record<string, unknown> {
    return {
      type,
      application: app,
      timestamp: new Date().toISOString(),
      asterisk_id: '02:42:ac:11:00:02',
      ...fields,
    }
  }

  private emit(app: string, type: string, fields: Record<string, unknown>): void {
    const message = this.event(type, app, fields)
    this.sentEvents.push(message)
    const text = JSON.stringify(message)
    for (const [ws, wsApp] of this.sockets) if (wsApp === app) ws.send(text)
  }

  private reply(res: ServerResponse, status: number, body?: unknown): void {
    if (body === undefined) {
      res.writeHead(status).end()
      return
    }
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
  }
}

function reasonToCause(reason: string | undefined): number {
  switch (reason ?? 'normal') {
    case 'normal':
      return 16
    case 'busy':
      return 17
    case 'no_answer':
      return 19
    case 'congestion':
      return 34
    default:
      return NaN
  }
}

export async function startFakeAri(options: FakeAriOptions = {}): Promise<FakeAriServer> {
  return new FakeAriServer(options).start()
}
