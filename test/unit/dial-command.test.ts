import { describe, expect, it, vi } from 'vitest'
import { parseDialCommand } from '../../src/contracts/dial-command.js'
import { DialCommand, describeZodError, IvrFlow } from '../../src/contracts/index.js'
import { seedCampaign } from '../helpers/fixtures.js'

const flow = seedCampaign().config.ivrFlow

/** A valid POST /dial body; `contactId` varies so each body is another task of one campaign. */
function command(overrides: Record<string, unknown> = {}, contactId = 'contact-456') {
  return {
    callId: `call.campaign-123.${contactId}.0`,
    phoneNumber: '+972501234567',
    campaignId: 'campaign-123',
    contactId,
    audioFileUrl: 'https://s3.amazonaws.com/bucket/audio.mp3',
    ivrFlow: flow,
    metadata: { firstName: 'John' },
    attempt: 0,
    maxConcurrentCalls: 10,
    notBefore: 1_765_000_000_000,
    cpsLimit: 5,
    ...overrides,
  }
}

/** `text` (a JSON object) with one more top-level member, written last. */
const withMember = (text: string, member: string) => `${text.slice(0, -1)},${member}}`

/** parseDialCommand must answer as the whole schema does: same success, data, error text. */
function expectSameAsSchema(body: string): void {
  const expected = DialCommand.safeParse(JSON.parse(body))
  const actual = parseDialCommand(body)
  expect(actual.success).toBe(expected.success)
  if (expected.success) expect(actual.data).toEqual(expected.data)
  else expect(describeZodError(actual.error!)).toBe(describeZodError(expected.error))
}

describe('parseDialCommand (the worker reads POST /dial)', () => {
  it('answers as DialCommand.safeParse does, for valid and invalid bodies', () => {
    const flowText = JSON.stringify(flow)
    const bodies = [
      JSON.stringify(command()),
      JSON.stringify(command({ metadata: undefined, attempt: undefined, amd: { mode: 'hangup' } })),
      JSON.stringify(command({ extra: 'dropped' })),
      JSON.stringify(command(), null, 2), // spacing inside and around the flow
      JSON.stringify(command({ phoneNumber: '+1555' })), // the rest invalid
      JSON.stringify(command({ phoneNumber: '+1555', ivrFlow: { nodes: [] } })), // both
      JSON.stringify(command({ ivrFlow: { ...flow, startNodeId: '' } })), // the flow invalid
      JSON.stringify(command({ ivrFlow: undefined })), // no flow
      JSON.stringify(command({ ivrFlow: 'not a flow' })),
      // two ivrFlow members: JSON.parse keeps the last, and so must the flow's text
      JSON.stringify(command()).replace('"ivrFlow":', '"ivrFlow":{"nodes":[]},"ivrFlow":'),
      JSON.stringify(command()).replace(
        '"ivrFlow":',
        `"ivrFlow":${flowText},"ivrFlow":{"nodes":[]},"ivrFlow":`,
      ),
      withMember(JSON.stringify(command({ ivrFlow: { nodes: [] } })), `"ivrFlow":${flowText}`),
      // an escaped key is ivrFlow to JSON.parse
      JSON.stringify(command()).replace('"ivrFlow":', '"ivr\\u0046low":{"nodes":[]},"ivrFlow":'),
      withMember(JSON.stringify(command()), '"ivr\\u0046low":{"nodes":[]}'),
      // numbers past a double's range are Infinity to JSON.parse (null in the flow's key)
      withMember(
        JSON.stringify(command({ ivrFlow: { ...flow, extra: 1 } })).replace('"extra":1', '"extra":1e400'),
        '"z":0',
      ),
      JSON.stringify(command()).replace(`"startNodeId":"${flow.startNodeId}"`, '"startNodeId":1e400'),
      '[]',
      'null',
      '"text"',
      '{}',
    ]
    for (const body of bodies) expectSameAsSchema(body)
  })

  it('throws SyntaxError for a body that is not JSON (readJson answers 400 invalid_json)', () => {
    expect(() => parseDialCommand('{"callId":')).toThrow(SyntaxError)
  })

  it('validates a flow text once, a flow that differs in any character again, the rest every time', () => {
    const flowParse = vi.spyOn(IvrFlow, 'safeParse')
    const changed = { ...flow, startNodeId: `${flow.startNodeId} ` } // one more character: unknown node
    try {
      const unique = { ...flow, nodes: flow.nodes.map((n) => ({ ...n, id: `${n.id}-once` })) }
      unique.startNodeId = `${flow.startNodeId}-once`
      const first = parseDialCommand(JSON.stringify(command({ ivrFlow: unique }, 'c-1')))
      const second = parseDialCommand(JSON.stringify(command({ ivrFlow: unique }, 'c-2')))
      expect(flowParse).toHaveBeenCalledTimes(1)
      expect(first.success && second.success).toBe(true)
      // one validated flow shared by every command of it, frozen; the command itself is the task's own
      expect(second.data!.ivrFlow).toBe(first.data!.ivrFlow)
      expect(second.data!.contactId).toBe('c-2')
      expect(Object.isFrozen(first.data!.ivrFlow)).toBe(true)
      expect(Object.isFrozen(first.data!.ivrFlow.nodes[0])).toBe(true)
      expect(Object.isFrozen(first.data)).toBe(false)
      expect(() => {
        ;(first.data!.ivrFlow as { startNodeId: string }).startNodeId = 'forged'
      }).toThrow(TypeError)

      // the rest is checked on every call, whatever the flow cache holds
      const badNumber = parseDialCommand(JSON.stringify(command({ ivrFlow: unique, phoneNumber: '+1555' })))
      expect(badNumber.success).toBe(false)

      // the same flow written with other spacing is the same flow: kept
      const spaced = parseDialCommand(JSON.stringify(command({ ivrFlow: unique }), null, 1))
      expect(flowParse).toHaveBeenCalledTimes(1)
      expect(spaced.data!.ivrFlow).toBe(first.data!.ivrFlow)

      // a changed flow is never answered from the cache
      const other = parseDialCommand(JSON.stringify(command({ ivrFlow: { ...unique, startNodeId: 'x' } })))
      expect(flowParse).toHaveBeenCalledTimes(2)
      expect(other.data!.ivrFlow.startNodeId).toBe('x')
      const invalid = parseDialCommand(JSON.stringify(command({ ivrFlow: { ...unique, nodes: [] } })))
      expect(invalid.success).toBe(false)
      expect(describeZodError(invalid.error!)).toContain('ivrFlow.nodes')
      expect(parseDialCommand(JSON.stringify(command({ ivrFlow: changed }))).success).toBe(true)
    } finally {
      flowParse.mockRestore()
    }
  })
})
