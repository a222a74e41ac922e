import { errorMessage } from '../../../src/errors.js'
import type { CallOutcome } from '../../../src/telephony/driver.js'
import type { Channel } from './events.js'
import { Q850 } from './outcome.js'
import { answer, settle, type DriverState, type Tracked } from './tracked.js'

/**
 * After every (re)connect, ARI's channel list is compared with the calls this driver follows:
 * events missed while disconnected are made good (a ringing call answered or gone, an answered
 * call gone, a playback over), channels left in our app by a previous run are hung up, and
 * channels we gave up on earlier are hung up now.
 */

export interface ReconcileReport {
  at: Date
  /** every channel Asterisk has now (not only ours): a restarted worker can close its stale rows */
  liveChannelIds: string[]
  /** calls this driver was following whose channel was gone; each already resolved */
  ended: EndedCall[]
  /**
   * channels in this driver's Stasis app that no call of this process follows (a previous run of
   * this worker crashed mid-call): each was hung up; `state` is what Asterisk said before ("Up" =
   * the callee had answered)
   */
  orphans: OrphanChannel[]
}

export interface EndedCall {
  callId: string
  phase: 'ringing' | 'answered'
  outcome?: CallOutcome
}

export interface OrphanChannel {
  channelId: string
  /** Asterisk's channel state when found: Up, Ringing, Ring, Down, … */
  state: string
  /** false when the hang-up request failed (ARI unreachable): retried on the next reconnect */
  hungUp: boolean
}

/** Given channel ids, resolves the ones that are open calls of this worker (see AriDriver.setChannelOwner). */
export type ChannelOwnerLookup = (channelIds: string[]) => Promise<Set<string>>

/**
 * Whether ARI's channel model shows the channel inside Stasis application `app`: Asterisk reports
 * `dialplan.app_name` "Stasis" and `app_data` "<app>,<args>" (recorded from Asterisk 22).
 */
export function inStasisApp(channel: Channel, app: string): boolean {
  const dialplan = channel.dialplan
  if (!dialplan || dialplan.app_name !== 'Stasis') return false
  return (dialplan.app_data ?? '').split(',')[0] === app
}

/** Runs reconciliation and holds who hears about it (report and orphan listeners, first-report waiters). */
export class Reconciler {
  private readonly reportListeners = new Set<(report: ReconcileReport) => void>()
  private readonly orphanListeners = new Set<(orphans: OrphanChannel[]) => Promise<void>>()
  private ownerLookup: ChannelOwnerLookup | undefined
  private firstReport: ReconcileReport | undefined
  private readonly firstReportWaiters = new Set<(report: ReconcileReport) => void>()

  constructor(private readonly state: DriverState) {}

  onReconcile(listener: (report: ReconcileReport) => void): () => void {
    this.reportListeners.add(listener)
    return () => this.reportListeners.delete(listener)
  }

  onOrphans(listener: (orphans: OrphanChannel[]) => Promise<void>): () => void {
    this.orphanListeners.add(listener)
    return () => this.orphanListeners.delete(listener)
  }

  setChannelOwner(lookup: ChannelOwnerLookup): void {
    this.ownerLookup = lookup
  }

  /** The first reconcile's report (orphan listeners done), or undefined after timeoutMs. */
  first(timeoutMs: number): Promise<ReconcileReport | undefined> {
    if (this.firstReport) return Promise.resolve(this.firstReport)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.firstReportWaiters.delete(done)
        resolve(undefined)
      }, timeoutMs)
      const done = (report: ReconcileReport) => {
        clearTimeout(timer)
        resolve(report)
      }
      this.firstReportWaiters.add(done)
    })
  }

  /** One pass: list → judge followed calls → hang up orphans → retry abandoned → tell listeners. */
  async run(): Promise<void> {
    const { state } = this
    // Only calls whose channel Asterisk had confirmed before we asked for the list can be judged
    // by it; a call originated meanwhile would look "gone" when it is merely newer than the list.
    const listSeq = ++state.seq
    let live: Map<string, Channel>
    try {
      live = new Map((await state.client.listChannels()).map((c) => [c.id, c]))
    } catch (error) {
      state.log.warn('ARI reconcile: cannot list channels', { error: errorMessage(error) })
      return
    }
    const ended = await judgeFollowed(state, live, listSeq)
    const orphans = await this.hangUpOrphans(live)
    await retryAbandoned(state, live)
    await this.announceOrphans(orphans)
    if (ended.length)
      state.log.warn('ARI reconcile ended calls whose channel is gone', { count: ended.length })
    this.publish({ at: new Date(), liveChannelIds: [...live.keys()], ended, orphans })
  }

  /**
   * Channels in our app that no call of this process follows: a previous run of this worker died
   * mid-call (same WORKER_ID → same app). Left alone they stay up, silent and billing. Channels
   * outside the app count when the owner lookup says they are this worker's open calls.
   */
  private async hangUpOrphans(live: Map<string, Channel>): Promise<OrphanChannel[]> {
    const { calls, abandoned, client, log, settings } = this.state
    const orphans: OrphanChannel[] = []
    const untracked = [...live.values()].filter((c) => !calls.has(c.id) && !abandoned.has(c.id))
    let owned = new Set<string>()
    if (this.ownerLookup && untracked.length) {
      owned = await this.ownerLookup(untracked.map((c) => c.id)).catch((error: unknown) => {
        log.warn('ARI reconcile: cannot look up which channels are ours', { error: errorMessage(error) })
        return new Set<string>()
      })
    }
    for (const channel of untracked) {
      if (!owned.has(channel.id) && !inStasisApp(channel, settings.app)) continue
      let hungUp = true
      try {
        await client.hangup(channel.id, { reasonCode: Q850.NORMAL_CLEARING })
      } catch (error) {
        hungUp = false
        log.warn('ARI reconcile: cannot hang up an orphan channel; retried on the next reconnect', {
          channelId: channel.id,
          error: errorMessage(error),
        })
      }
      orphans.push({ channelId: channel.id, state: channel.state ?? 'Unknown', hungUp })
    }
    return orphans
  }

  /** Awaits every orphan listener (the worker closes the orphans' rows there); one failing does not stop the rest. */
  private async announceOrphans(orphans: OrphanChannel[]): Promise<void> {
    if (!orphans.length) return
    const { log } = this.state
    log.warn('ARI reconcile: hung up channels left in the app by a previous run', {
      count: orphans.length,
      answered: orphans.filter((o) => o.state === 'Up').length,
    })
    for (const listener of [...this.orphanListeners]) {
      try {
        await listener(orphans)
      } catch (error) {
        log.error('orphan listener failed', { error: errorMessage(error) })
      }
    }
  }

  private publish(report: ReconcileReport): void {
    for (const listener of [...this.reportListeners]) {
      try {
        listener(report)
      } catch (error) {
        this.state.log.error('reconcile listener threw', { error: errorMessage(error) })
      }
    }
    if (!this.firstReport) {
      this.firstReport = report
      for (const resolve of [...this.firstReportWaiters]) resolve(report)
      this.firstReportWaiters.clear()
    }
  }
}

/** Each followed call whose channel Asterisk confirmed before `listSeq`, judged by the live list. */
async function judgeFollowed(
  state: DriverState,
  live: Map<string, Channel>,
  listSeq: number,
): Promise<EndedCall[]> {
  const ended: EndedCall[] = []
  for (const tracked of [...state.calls.values()]) {
    if (tracked.confirmedSeq === undefined || tracked.confirmedSeq > listSeq) continue
    const gone = await judgeOne(state, tracked, live.get(tracked.callId))
    if (gone) ended.push(gone)
  }
  return ended
}

/** Makes good what was missed while disconnected; returns the call when its channel is gone. */
async function judgeOne(
  state: DriverState,
  tracked: Tracked,
  channel: Channel | undefined,
): Promise<EndedCall | undefined> {
  const { stage } = tracked
  if (stage.phase === 'ringing') {
    if (!channel) {
      settle(state, tracked, {
        outcome: 'failed',
        reason: 'telephony-restart',
        error: 'channel gone after the ARI connection came back (Asterisk restarted?)',
      })
      return { callId: tracked.callId, phase: 'ringing', outcome: 'failed' }
    }
    // StasisStart was sent while we were disconnected.
    if (channel.state === 'Up' && !tracked.detecting) answer(state, tracked, channel.state)
    return undefined
  }
  if (!channel) {
    stage.call.markEnded(undefined, 'telephony-restart')
    return { callId: tracked.callId, phase: 'answered' }
  }
  for (const playbackId of stage.call.pendingPlaybackIds()) {
    const playback = await state.client.getPlayback(playbackId).catch(() => null)
    if (playback === undefined) stage.call.resolveLostPlayback(playbackId)
  }
  return undefined
}

/** Channels given up while ARI was unreachable: hung up now if Asterisk still has them. */
async function retryAbandoned(state: DriverState, live: Map<string, Channel>): Promise<void> {
  const { abandoned, calls, client } = state
  for (const callId of [...abandoned]) {
    abandoned.delete(callId)
    if (live.has(callId) && !calls.has(callId)) {
      await client.hangup(callId, { reasonCode: Q850.NORMAL_CLEARING }).catch(() => abandoned.add(callId))
    }
  }
}
