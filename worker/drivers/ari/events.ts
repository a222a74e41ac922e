import { z } from 'zod'

/**
 * ARI models and events, as documented in asterisk/asterisk `rest-api/api-docs/{channels,events,playbacks}.json`.
 * Only the fields the driver reads are required; everything else passes through, so a newer Asterisk
 * adding fields (or an older one missing optional ones) does not break parsing.
 */

export const CallerId = z.looseObject({ name: z.string().optional(), number: z.string().optional() })

export const Channel = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  /** Down, Rsrved, OffHook, Dialing, Ring, Ringing, Up, Busy, Dialing Offhook, Pre-ring, Unknown */
  state: z.string().optional(),
  caller: CallerId.optional(),
  connected: CallerId.optional(),
  accountcode: z.string().optional(),
  creationtime: z.string().optional(),
  language: z.string().optional(),
  /** where the channel is in the dialplan; app_name "Stasis" + app_data "<app>,<args>" inside an ARI app */
  dialplan: z
    .looseObject({
      context: z.string().optional(),
      exten: z.string().optional(),
      priority: z.number().optional(),
      app_name: z.string().optional(),
      app_data: z.string().optional(),
    })
    .optional(),
  channelvars: z.record(z.string(), z.string()).optional(),
})
export type Channel = z.infer<typeof Channel>

export const PLAYBACK_STATES = ['queued', 'playing', 'continuing', 'done', 'failed'] as const
export const Playback = z.looseObject({
  id: z.string(),
  media_uri: z.string(),
  next_media_uri: z.string().optional(),
  /** "channel:<channelId>" or "bridge:<bridgeId>" */
  target_uri: z.string(),
  language: z.string().optional(),
  state: z.string(),
})
export type Playback = z.infer<typeof Playback>

const base = {
  application: z.string(),
  timestamp: z.string().optional(),
  asterisk_id: z.string().optional(),
}

export const StasisStart = z.looseObject({
  ...base,
  type: z.literal('StasisStart'),
  args: z.array(z.string()).default([]),
  channel: Channel,
  replace_channel: Channel.optional(),
})
export const StasisEnd = z.looseObject({ ...base, type: z.literal('StasisEnd'), channel: Channel })
export const ChannelStateChange = z.looseObject({
  ...base,
  type: z.literal('ChannelStateChange'),
  channel: Channel,
})
export const ChannelDtmfReceived = z.looseObject({
  ...base,
  type: z.literal('ChannelDtmfReceived'),
  digit: z.string(),
  duration_ms: z.number().optional(),
  channel: Channel,
})
export const PlaybackStarted = z.looseObject({
  ...base,
  type: z.literal('PlaybackStarted'),
  playback: Playback,
})
export const PlaybackFinished = z.looseObject({
  ...base,
  type: z.literal('PlaybackFinished'),
  playback: Playback,
})
export const ChannelHangupRequest = z.looseObject({
  ...base,
  type: z.literal('ChannelHangupRequest'),
  cause: z.number().optional(),
  soft: z.boolean().optional(),
  channel: Channel,
})
export const ChannelDestroyed = z.looseObject({
  ...base,
  type: z.literal('ChannelDestroyed'),
  cause: z.number(),
  cause_txt: z.string().optional(),
  channel: Channel,
})
/**
 * A channel variable changed (events.json ChannelVarset); `channel` is absent for a global one.
 * The driver reads AMDSTATUS / AMDCAUSE, set by AMD() while the channel runs the AMD dialplan.
 */
export const ChannelVarset = z.looseObject({
  ...base,
  type: z.literal('ChannelVarset'),
  variable: z.string(),
  value: z.string(),
  channel: Channel.optional(),
})
export const ApplicationReplaced = z.looseObject({ ...base, type: z.literal('ApplicationReplaced') })
export const Dial = z.looseObject({
  ...base,
  type: z.literal('Dial'),
  caller: Channel.optional(),
  peer: Channel,
  forward: z.string().optional(),
  forwarded: Channel.optional(),
  dialstring: z.string().optional(),
  /** ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL, … or empty while ringing */
  dialstatus: z.string(),
})

export const AriEvent = z.discriminatedUnion('type', [
  StasisStart,
  StasisEnd,
  ChannelStateChange,
  ChannelDtmfReceived,
  PlaybackStarted,
  PlaybackFinished,
  ChannelHangupRequest,
  ChannelDestroyed,
  ApplicationReplaced,
  ChannelVarset,
  Dial,
])
export type AriEvent = z.infer<typeof AriEvent>
export type AriEventType = AriEvent['type']
export type AriEventOf<T extends AriEventType> = Extract<AriEvent, { type: T }>

export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set<AriEventType>([
  'StasisStart',
  'StasisEnd',
  'ChannelStateChange',
  'ChannelDtmfReceived',
  'PlaybackStarted',
  'PlaybackFinished',
  'ChannelHangupRequest',
  'ChannelDestroyed',
  'ApplicationReplaced',
  'ChannelVarset',
  'Dial',
])

/** The channel an event is about, so the client can route it to that channel's listeners. */
export function channelIdOf(event: AriEvent): string | undefined {
  switch (event.type) {
    case 'PlaybackStarted':
    case 'PlaybackFinished':
      return event.playback.target_uri.startsWith('channel:')
        ? event.playback.target_uri.slice('channel:'.length)
        : undefined
    case 'Dial':
      return event.peer.id
    case 'ApplicationReplaced':
      return undefined
    case 'ChannelVarset':
      return event.channel?.id
    default:
      return event.channel.id
  }
}
