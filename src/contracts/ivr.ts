import { z } from 'zod'

export const IvrAction = z.object({
  type: z.string().min(1).describe('trigger_donation, add_to_blacklist, hangup or goto'),
  parameters: z
    .record(z.string(), z.unknown())
    .default({})
    .describe('action parameters, e.g. {"nodeId": "…"} for goto'),
})
export type IvrAction = z.infer<typeof IvrAction>

/** Action types the worker knows how to run; others are rejected when a campaign is saved. */
export const KNOWN_ACTIONS = ['trigger_donation', 'add_to_blacklist', 'hangup', 'goto'] as const

export const PlayAudioNode = z.object({
  id: z.string().min(1),
  type: z.literal('play_audio'),
  audioUrl: z.string().min(1).describe('the audio played (URL)'),
  nextNodeId: z.string().min(1).optional().describe('node after the audio; absent = hang up'),
})

export const CaptureInputNode = z.object({
  id: z.string().min(1),
  type: z.literal('capture_input'),
  /** seconds to wait for a digit */
  timeout: z.number().positive().max(120).describe('seconds to wait for a key press'),
  validInputs: z
    .array(z.string().regex(/^[0-9*#]$/, 'each valid input must be one DTMF key 0-9, * or #'))
    .min(1),
  actions: z.record(z.string(), IvrAction).describe('one action per valid input, keyed by the DTMF key'),
  /** node to go to after the action, or on timeout / invalid input; absent = hang up */
  nextNodeId: z.string().min(1).optional(),
  onTimeoutNodeId: z.string().min(1).optional(),
  onInvalidNodeId: z.string().min(1).optional(),
})

export const IvrNode = z.discriminatedUnion('type', [PlayAudioNode, CaptureInputNode])
export type IvrNode = z.infer<typeof IvrNode>
export type PlayAudioNode = z.infer<typeof PlayAudioNode>
export type CaptureInputNode = z.infer<typeof CaptureInputNode>

export const IvrFlow = z
  .object({
    nodes: z.array(IvrNode).min(1),
    startNodeId: z.string().min(1).describe('the node played first'),
  })
  .describe(
    'the IVR: audio nodes and key-press nodes; checked for dangling ids, unreachable nodes and silent loops',
  )
export type IvrFlow = z.infer<typeof IvrFlow>
