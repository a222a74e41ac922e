import { z } from 'zod'
import { sleep } from '../../src/clock.js'
import { describeZodError } from '../../src/contracts/errors.js'
import type {
  ActiveCall,
  AmdResult,
  CallOutcome,
  DigitResult,
  OriginateRequest,
  OriginateResult,
  PlayResult,
  TelephonyDriver,
} from '../../src/telephony/driver.js'

/**
 * A simulated callee: answers, rings, presses keys and hangs up at configured rates. Every
 * random choice of a call comes from a PRNG seeded with (seed, callId), so a run is reproducible
 * and the outcome of a call does not depend on how many others run beside it.
 */

const Range = z
  .tuple([z.number().nonnegative(), z.number().nonnegative()])
  .refine(([a, b]) => b >= a, { message: 'range must be [min, max] with max >= min' })
const Rate = z.number().min(0).max(1)

export const SimOptions = z
  .object({
    seed: z.union([z.number(), z.string()]).default(1),
    /** share of calls answered */
    answerRate: Rate.default(0.6),
    /**
     * share of answered calls picked up by an answering machine. With AMD requested the driver
     * reports it as AMD would (MACHINE, else HUMAN); without, the machine "answers" the IVR and
     * presses nothing, as on a real line.
     */
    machineRate: Rate.default(0),
    /** share of calls busy (of all calls); the rest of the unanswered ring out (no-answer) */
    busyRate: Rate.default(0.1),
    /** share of calls that fail with network congestion */
    congestionRate: Rate.default(0),
    /** ring time before an answer, ms [min, max] */
    ringMs: Range.default([1000, 4000]),
    /**
     * What the callee does at each prompt, by weight: DTMF keys ("0"-"9", "*", "#"),
     * "none" (lets the prompt time out) and "hangup". Weights need not sum to 1.
     */
    dtmf: z
      .record(z.string(), z.number().nonnegative())
      .superRefine((weights, ctx) => {
        for (const key of Object.keys(weights))
          if (!/^([0-9*#]|none|hangup)$/.test(key))
            ctx.addIssue({ code: 'custom', path: [key], message: 'keys are DTMF digits, "none" or "hangup"' })
      })
      .default({ '1': 0.3, '9': 0.05, none: 0.65 }),
    /** how long the callee takes to press a key, ms [min, max] */
    digitDelayMs: Range.default([500, 3000]),
    /** duration of every audio file, ms [min, max] */
    playbackMs: Range.default([2000, 2000]),
    /** chance the callee hangs up during each playback */
    hangupDuringPlaybackRate: Rate.default(0),
    /** multiplies every simulated duration: 1 real time, 0.01 a hundred times faster, 0 no waiting */
    speed: z.number().nonnegative().default(1),
  })
  .refine((o) => o.answerRate + o.busyRate + o.congestionRate <= 1, {
    message: 'answerRate + busyRate + congestionRate must not exceed 1',
    path: ['answerRate'],
  })
  .refine((o) => Object.values(o.dtmf).some((w) => w > 0), {
    message: 'at least one dtmf choice needs a weight above 0',
    path: ['dtmf'],
  })
export type SimOptions = z.output<typeof SimOptions>
export type SimOptionsInput = z.input<typeof SimOptions>

/** Q.850 causes, as the trunk would report them */
const CAUSE = { normal: 16, busy: 17, noAnswer: 19, congestion: 34 } as const

/** cyrb53: a fast, well-mixed 53-bit string hash, to seed each call's PRNG. */
function hash(text: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/** mulberry32: small, fast, good enough for simulation (not for anything secret). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function callRandom(seed: number | string, callId: string): () => number {
  return prng(hash(`${seed}:${callId}`))
}

function inRange(random: () => number, [min, max]: readonly [number, number]): number {
  return min + (max - min) * random()
}

/**
 * A key of `weights` drawn by weight (those of weight 0 never). Two passes over the keys, with no
 * arrays of entries (it runs at every prompt of every simulated call, issue #17); the same sums in
 * the same order as before, so a seed draws the same keys.
 */
function pickWeighted(random: () => number, weights: Record<string, number>): string {
  const keys = Object.keys(weights)
  let total = 0
  let last = ''
  for (const key of keys) {
    const w = weights[key]!
    if (w > 0) {
      total += w
      last = key
    }
  }
  let r = random() * total
  for (const key of keys) {
    const w = weights[key]!
    if (w <= 0) continue
    r -= w
    if (r < 0) return key
  }
  return last
}

class SimCall implements ActiveCall {
  hungUp = false

  constructor(
    readonly callId: string,
    private readonly random: () => number,
    private readonly options: SimOptions,
    private readonly onEnd: () => void,
  ) {}

  private wait(ms: number): Promise<void> {
    return sleep(ms * this.options.speed)
  }

  private calleeHangsUp(): void {
    if (this.hungUp) return
    this.hungUp = true
    this.onEnd()
  }

  async play(_audioUrl: string): Promise<PlayResult> {
    if (this.hungUp) return { completed: false }
    const duration = inRange(this.random, this.options.playbackMs)
    if (this.random() < this.options.hangupDuringPlaybackRate) {
      await this.wait(duration * this.random())
      this.calleeHangsUp()
      return { completed: false }
    }
    await this.wait(duration)
    return this.hungUp ? { completed: false } : { completed: true }
  }

  async collectDigit(timeoutSeconds: number): Promise<DigitResult> {
    if (this.hungUp) return { kind: 'hangup' }
    const choice = pickWeighted(this.random, this.options.dtmf)
    const delay = inRange(this.random, this.options.digitDelayMs)
    const timeoutMs = timeoutSeconds * 1000
    if (choice === 'none' || delay > timeoutMs) {
      await this.wait(timeoutMs)
      return this.hungUp ? { kind: 'hangup' } : { kind: 'timeout' }
    }
    await this.wait(delay)
    if (choice === 'hangup') {
      this.calleeHangsUp()
      return { kind: 'hangup' }
    }
    return this.hungUp ? { kind: 'hangup' } : { kind: 'digit', digit: choice }
  }

  async hangup(): Promise<{ hangupCause?: number }> {
    if (!this.hungUp) {
      this.hungUp = true
      this.onEnd()
    }
    return { hangupCause: CAUSE.normal }
  }
}

export class SimDriver implements TelephonyDriver {
  readonly name = 'sim'
  readonly options: SimOptions
  private active = 0
  private up = true

  constructor(options: SimOptionsInput = {}) {
    const parsed = SimOptions.safeParse(options)
    if (!parsed.success) throw new Error(`sim driver options: ${describeZodError(parsed.error)}`)
    this.options = parsed.data
  }

  /** answered calls not yet hung up */
  get activeCalls(): number {
    return this.active
  }

  /** tests and the local stack use this to rehearse an unhealthy driver */
  setHealthy(healthy: boolean): void {
    this.up = healthy
  }

  healthy(): boolean {
    return this.up
  }

  async originate(request: OriginateRequest): Promise<{ result: OriginateResult; call?: ActiveCall }> {
    if (!this.up) return { result: { outcome: 'failed', error: 'sim driver is marked unhealthy' } }
    const random = callRandom(this.options.seed, request.callId)
    const o = this.options
    const roll = random()
    const ringMs = inRange(random, o.ringMs)
    const ringTimeoutMs = request.ringTimeoutSeconds * 1000
    const speed = o.speed

    let outcome: CallOutcome
    if (roll < o.answerRate) outcome = ringMs <= ringTimeoutMs ? 'answered' : 'no-answer'
    else if (roll < o.answerRate + o.busyRate) outcome = 'busy'
    else if (roll < o.answerRate + o.busyRate + o.congestionRate) outcome = 'congestion'
    else outcome = 'no-answer'

    if (outcome === 'answered') {
      // Drawn only when machines are simulated, so seeded runs without them keep their outcomes.
      const machine = o.machineRate > 0 && random() < o.machineRate
      await sleep(ringMs * speed)
      this.active++
      const callee = machine ? { ...o, dtmf: { none: 1 }, hangupDuringPlaybackRate: 0 } : o
      const call = new SimCall(request.callId, random, callee, () => this.active--)
      if (!request.amd) return { result: { outcome }, call }
      const amd: AmdResult = machine
        ? { status: 'MACHINE', cause: 'LONGGREETING-2000-1500' }
        : { status: 'HUMAN', cause: 'HUMAN-1000-800' }
      return { result: { outcome, amd }, call }
    }
    if (outcome === 'no-answer') {
      await sleep(ringTimeoutMs * speed)
      return { result: { outcome, hangupCause: CAUSE.noAnswer } }
    }
    // busy and congestion come back quickly, before any ringing
    await sleep(Math.min(ringMs, 500) * speed)
    return { result: { outcome, hangupCause: outcome === 'busy' ? CAUSE.busy : CAUSE.congestion } }
  }

  async close(): Promise<void> {
    this.up = false
  }
}
