import { describe, expect, it } from 'vitest'
import { dispatchDefinition } from '../../stacks/dispatch-definition.js'
import { sipTrunkCidrs } from '../../stacks/settings.js'

/**
 * A small interpreter for the subset of Amazon States Language the campaign machine uses
 * (Pass with Parameters/States.MathAdd, Task, Choice with Not/StringEquals/Numeric*, Wait,
 * Succeed), so the loop's behaviour is tested, not just its JSON.
 */
type Json = Record<string, unknown>
type State = Json & { Type: string; Next?: string; End?: boolean }

function path(doc: unknown, p: string): unknown {
  if (p === '$') return doc
  return p
    .replace(/^\$\./, '')
    .split('.')
    .reduce<unknown>((v, k) => {
      if (v === null || typeof v !== 'object' || !(k in v))
        throw new Error(`States.Runtime: path ${p} not found`)
      return (v as Json)[k]
    }, doc)
}

function params(template: Json, input: unknown, context: Json): Json {
  const out: Json = {}
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) {
      const expr = String(value)
      const add = /^States\.MathAdd\((\$[^,]*),\s*(-?\d+)\)$/.exec(expr)
      out[key.slice(0, -2)] = add
        ? Number(path(input, add[1]!)) + Number(add[2])
        : expr.startsWith('$$.')
          ? path(context, expr.slice(1))
          : path(input, expr)
    } else out[key] = value && typeof value === 'object' ? params(value as Json, input, context) : value
  }
  return out
}

function choose(rule: Json, input: unknown): boolean {
  if (rule.Not) return !choose(rule.Not as Json, input)
  const v = path(input, String(rule.Variable))
  if ('StringEquals' in rule) return v === rule.StringEquals
  if ('NumericLessThanEquals' in rule) return Number(v) <= Number(rule.NumericLessThanEquals)
  if ('NumericGreaterThanEquals' in rule) return Number(v) >= Number(rule.NumericGreaterThanEquals)
  throw new Error(`unsupported rule ${JSON.stringify(rule)}`)
}

interface Run {
  end: string
  dispatches: number
  waits: number
  waitedSeconds: number[]
  startedExecution?: Json
}

function run(
  definition: Json,
  input: Json,
  task: (resource: string, parameters: Json) => unknown,
  maxSteps = 10_000,
): Run {
  const states = definition.States as Record<string, State>
  const context = { StateMachine: { Id: 'arn:sm' }, Execution: { Id: 'arn:exec:1' } }
  let name = String(definition.StartAt)
  let doc: unknown = input
  const result: Run = { end: '', dispatches: 0, waits: 0, waitedSeconds: [] }
  for (let step = 0; step < maxSteps; step++) {
    const s = states[name]!
    switch (s.Type) {
      case 'Pass':
        doc = s.Parameters ? params(s.Parameters as Json, doc, context) : doc
        break
      case 'Task': {
        const p = params(s.Parameters as Json, doc, context)
        const raw = task(String(s.Resource), p)
        if (String(s.Resource).endsWith('startExecution')) {
          result.startedExecution = p
          result.end = name
          return result
        }
        result.dispatches++
        const selected = s.ResultSelector ? params(s.ResultSelector as Json, raw, context) : raw
        if (s.ResultPath) (doc as Json)[String(s.ResultPath).slice(2)] = selected
        break
      }
      case 'Choice': {
        const hit = (s.Choices as Json[]).find((c) => choose(c, doc))
        name = String(hit ? hit.Next : s.Default)
        continue
      }
      case 'Wait':
        result.waits++
        result.waitedSeconds.push(Number(s.SecondsPath ? path(doc, String(s.SecondsPath)) : s.Seconds))
        break
      case 'Succeed':
        result.end = name
        return result
      default:
        throw new Error(`unsupported state ${s.Type}`)
    }
    if (s.End) {
      result.end = name
      return result
    }
    name = s.Next!
  }
  throw new Error('did not terminate')
}

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:dispatcher'

describe('campaign state machine definition', () => {
  it('dispatches, waits and loops until no eligible contacts remain', () => {
    const remaining = [30, 20, 10, 0]
    const seen: Json[] = []
    const r = run(
      dispatchDefinition({ dispatcherArn: ARN, waitSeconds: 30 }),
      { campaignId: 'c1' },
      (res, p) => {
        expect(res).toBe('arn:aws:states:::lambda:invoke')
        seen.push(p)
        return {
          Payload: {
            campaignStatus: 'active',
            eligibleRemaining: remaining.shift(),
            waitSeconds: 2,
            queued: 10,
          },
        }
      },
    )
    expect(r).toMatchObject({ end: 'NoEligibleContacts', dispatches: 4, waits: 3, waitedSeconds: [2, 2, 2] })
    expect(seen.every((p) => p.FunctionName === ARN)).toBe(true)
    expect(seen[3]).toEqual({ FunctionName: ARN, Payload: { campaignId: 'c1' } })
  })

  it('stops as soon as the campaign is no longer active, even with contacts left', () => {
    const statuses = ['active', 'paused']
    const r = run(dispatchDefinition({ dispatcherArn: ARN, waitSeconds: 5 }), { campaignId: 'c1' }, () => ({
      Payload: { campaignStatus: statuses.shift(), eligibleRemaining: 500, waitSeconds: 600 },
    }))
    expect(r).toMatchObject({ end: 'CampaignNotActive', dispatches: 2, waits: 1 })
  })

  it('hands over to a fresh execution for the same campaign after maxRounds (history limit)', () => {
    const r = run(
      dispatchDefinition({ dispatcherArn: ARN, waitSeconds: 1, maxRounds: 3 }),
      { campaignId: 'c9' },
      () => ({ Payload: { campaignStatus: 'active', eligibleRemaining: 1, waitSeconds: 1 } }),
    )
    expect(r.end).toBe('ContinueAsNew')
    expect(r.dispatches).toBe(4)
    expect(r.startedExecution).toEqual({
      StateMachineArn: 'arn:sm',
      Input: { campaignId: 'c9', AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'arn:exec:1' },
    })
  })

  it("waits the dispatcher's waitSeconds (window closed: long), never less than 1 s", () => {
    const waits = [3600, 0, 5]
    const remaining = [9, 9, 9, 0]
    const r = run(dispatchDefinition({ dispatcherArn: ARN, waitSeconds: 30 }), { campaignId: 'c1' }, () => ({
      Payload: { campaignStatus: 'active', eligibleRemaining: remaining.shift(), waitSeconds: waits.shift() },
    }))
    expect(r.waitedSeconds).toEqual([3600, 30, 5])
  })

  it('fails loudly when the dispatcher breaks the contract instead of looping blindly', () => {
    expect(() =>
      run(dispatchDefinition({ dispatcherArn: ARN, waitSeconds: 1 }), { campaignId: 'c1' }, () => ({
        Payload: { enqueued: 3 },
      })),
    ).toThrow(/campaignStatus not found/)
  })
})

describe('SIP_TRUNK_CIDRS', () => {
  it('parses a comma-separated list and defaults to none', () => {
    expect(sipTrunkCidrs('203.0.113.0/24, 198.51.100.7/32')).toEqual(['203.0.113.0/24', '198.51.100.7/32'])
    expect(sipTrunkCidrs('')).toEqual([])
  })

  it.each(['0.0.0.0', '300.1.1.1/24', '10.0.0.0/33', 'sip.example.com'])(
    'rejects %s naming the variable',
    (bad) => {
      expect(() => sipTrunkCidrs(bad)).toThrow(/SIP_TRUNK_CIDRS: .* is not an IPv4 CIDR; set it like/)
    },
  )
})
