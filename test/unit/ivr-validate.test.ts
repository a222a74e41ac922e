import { describe, expect, it } from 'vitest'
import { formatIssue, formatIssues, validateCampaign, validateIvrFlow } from '../../src/ivr/validate.js'
import { seedCampaign, seedFlow } from '../helpers/fixtures.js'

const lines = (flow: unknown) => formatIssues(validateIvrFlow(flow).errors).split('\n')

describe('validateIvrFlow', () => {
  it('accepts the seed flow and returns the parsed value', () => {
    const result = validateIvrFlow(seedFlow())
    expect(result).toEqual({ ok: true, errors: [], value: seedFlow() })
  })

  it('names the node and the field of a valid input without an action', () => {
    const flow = seedFlow()
    delete (flow.nodes[1]!.actions as Record<string, unknown>)['9']
    const result = validateIvrFlow(flow)
    expect(result.ok).toBe(false)
    expect(result.errors).toEqual([
      {
        nodeId: 'node-2',
        field: 'actions.9',
        path: 'nodes.1.actions.9',
        message: 'no action for valid input "9"',
      },
    ])
    expect(formatIssue(result.errors[0]!)).toBe('node "node-2" actions.9: no action for valid input "9"')
  })

  it('rejects an action for a key that is not a valid input', () => {
    const flow = seedFlow()
    ;(flow.nodes[1]!.actions as Record<string, unknown>)['5'] = { type: 'hangup', parameters: {} }
    expect(lines(flow)).toEqual([
      'node "node-2" actions.5: action for key "5", which is not in validInputs; add it to validInputs or remove the action',
    ])
  })

  it('rejects a missing start node, listing the ids there are', () => {
    expect(lines({ ...seedFlow(), startNodeId: 'welcome' })).toEqual([
      'startNodeId: start node "welcome" does not exist; use one of: node-1, node-2',
      // nothing is reachable without a start, but that is reported once, not per node
    ])
  })

  it('rejects references to nodes that do not exist, per field', () => {
    const flow = seedFlow()
    flow.nodes[0]!.nextNodeId = 'node-x'
    Object.assign(flow.nodes[1]!, {
      nextNodeId: 'node-1',
      onTimeoutNodeId: 'node-t',
      onInvalidNodeId: 'node-i',
    })
    const result = validateIvrFlow(flow)
    expect(formatIssues(result.errors).split('\n')).toEqual([
      'node "node-1" nextNodeId: points to node "node-x", which does not exist',
      'node "node-2" onTimeoutNodeId: points to node "node-t", which does not exist',
      'node "node-2" onInvalidNodeId: points to node "node-i", which does not exist',
      'node "node-2" id: unreachable: no path leads here from start node "node-1"',
    ])
  })

  it('rejects unknown action types, listing the known ones', () => {
    const flow = seedFlow()
    ;(flow.nodes[1]!.actions as Record<string, unknown>)['1'] = { type: 'send_sms', parameters: {} }
    expect(lines(flow)).toEqual([
      'node "node-2" actions.1.type: unknown action type "send_sms"; known types: trigger_donation, add_to_blacklist, hangup, goto',
    ])
  })

  it('requires a goto action to name an existing node, and follows it for reachability', () => {
    const flow = seedFlow()
    flow.nodes.push({ id: 'thanks', type: 'play_audio', audioUrl: 'https://x/thanks.mp3' })
    ;(flow.nodes[1]!.actions as Record<string, unknown>)['1'] = {
      type: 'goto',
      parameters: { nodeId: 'thanks' },
    }
    expect(validateIvrFlow(flow).ok).toBe(true)
    ;(flow.nodes[1]!.actions as Record<string, unknown>)['1'] = { type: 'goto', parameters: {} }
    expect(lines(flow)).toEqual([
      'node "node-2" actions.1.parameters.nodeId: a goto action needs parameters.nodeId, the node to go to',
      'node "thanks" id: unreachable: no path leads here from start node "node-1"',
    ])
  })

  it('rejects duplicate node ids', () => {
    const flow = seedFlow()
    flow.nodes.push({ id: 'node-1', type: 'play_audio', audioUrl: 'https://x/y.mp3' })
    expect(validateIvrFlow(flow).errors).toEqual([
      { nodeId: 'node-1', field: 'id', path: 'nodes.2.id', message: 'duplicate node id "node-1"' },
    ])
  })

  it('rejects duplicate valid inputs', () => {
    const flow = seedFlow()
    flow.nodes[1]!.validInputs = ['1', '9', '1']
    expect(lines(flow)).toEqual(['node "node-2" validInputs: valid input "1" is listed twice'])
  })

  it('reports every unreachable node', () => {
    const flow = seedFlow()
    flow.nodes.push({
      id: 'orphan-a',
      type: 'play_audio',
      audioUrl: 'https://x/a.mp3',
      nextNodeId: 'orphan-b',
    })
    flow.nodes.push({ id: 'orphan-b', type: 'play_audio', audioUrl: 'https://x/b.mp3' })
    expect(lines(flow)).toEqual([
      'node "orphan-a" id: unreachable: no path leads here from start node "node-1"',
      'node "orphan-b" id: unreachable: no path leads here from start node "node-1"',
    ])
  })

  it('rejects a loop of play_audio nodes (no input ever awaited), once per loop', () => {
    const flow = {
      nodes: [
        { id: 'intro', type: 'play_audio', audioUrl: 'https://x/i.mp3', nextNodeId: 'a' },
        { id: 'a', type: 'play_audio', audioUrl: 'https://x/a.mp3', nextNodeId: 'b' },
        { id: 'b', type: 'play_audio', audioUrl: 'https://x/b.mp3', nextNodeId: 'a' },
      ],
      startNodeId: 'intro',
    }
    expect(lines(flow)).toEqual([
      'node "a" nextNodeId: cycle without input: a → b → a plays audio forever; route it through a capture_input node or end it',
    ])
    const self = {
      nodes: [{ id: 'a', type: 'play_audio', audioUrl: 'https://x/a.mp3', nextNodeId: 'a' }],
      startNodeId: 'a',
    }
    expect(validateIvrFlow(self).errors.map((e) => e.message)).toEqual([
      'cycle without input: a → a plays audio forever; route it through a capture_input node or end it',
    ])
  })

  it('accepts a loop that passes through a capture_input node (a menu that repeats)', () => {
    const flow = seedFlow()
    Object.assign(flow.nodes[1]!, { onTimeoutNodeId: 'node-1', onInvalidNodeId: 'node-1' })
    expect(validateIvrFlow(flow)).toMatchObject({ ok: true, errors: [] })
  })

  it('reports schema errors with the node id and field when the shape is wrong', () => {
    const flow = seedFlow()
    flow.nodes[1]!.timeout = -1
    flow.nodes[1]!.validInputs = ['1', '12']
    const result = validateIvrFlow(flow)
    expect(result.ok).toBe(false)
    expect(result.errors.map((e) => [e.nodeId, e.field, e.path])).toEqual([
      ['node-2', 'timeout', 'nodes.1.timeout'],
      ['node-2', 'validInputs.1', 'nodes.1.validInputs.1'],
    ])
    expect(result.errors[1]!.message).toBe('each valid input must be one DTMF key 0-9, * or #')
  })

  it('reports a flow that is not an object at the root', () => {
    const result = validateIvrFlow('nope')
    expect(result.ok).toBe(false)
    expect(result.errors[0]).toMatchObject({ field: '(root)', path: '(root)' })
  })
})

describe('validateCampaign', () => {
  it('accepts the seed campaign', () => {
    const result = validateCampaign(seedCampaign())
    expect(result.ok).toBe(true)
    expect(result.value).toEqual(seedCampaign())
  })

  it('returns schema and flow errors together, with full paths', () => {
    const campaign = seedCampaign()
    campaign.timezone = 'Middle/Earth'
    delete (campaign.config.ivrFlow.nodes[1]!.actions as Record<string, unknown>)['1']
    const result = validateCampaign(campaign)
    expect(result.ok).toBe(false)
    expect(result.value).toBeUndefined()
    expect(result.errors).toEqual([
      { field: 'timezone', path: 'timezone', message: 'must be an IANA time zone such as Asia/Jerusalem' },
      {
        nodeId: 'node-2',
        field: 'actions.1',
        path: 'config.ivrFlow.nodes.1.actions.1',
        message: 'no action for valid input "1"',
      },
    ])
  })

  it('names nodes in schema errors inside the flow', () => {
    const campaign = seedCampaign()
    delete campaign.config.ivrFlow.nodes[0]!.audioUrl
    const result = validateCampaign(campaign)
    expect(result.errors).toEqual([
      expect.objectContaining({
        nodeId: 'node-1',
        field: 'audioUrl',
        path: 'config.ivrFlow.nodes.0.audioUrl',
      }),
    ])
  })

  it('rejects an invalid calling window naming its field', () => {
    const campaign = seedCampaign()
    campaign.config.callingWindows = [{ dayOfWeek: [7], startHour: 17, endHour: 9 }]
    const paths = validateCampaign(campaign).errors.map((e) => e.path)
    expect(paths).toEqual(['config.callingWindows.0.dayOfWeek.0', 'config.callingWindows.0.endHour'])
  })
})
