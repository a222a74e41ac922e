import { describe, expect, it } from 'vitest'
import { IvrFlow, type IvrAction } from '../../src/contracts/ivr.js'
import { runIvr, type ActionRunner } from '../../src/ivr/runner.js'
import type { ActiveCall, DigitResult, PlayResult } from '../../src/telephony/driver.js'

/** What the scripted callee does at each prompt, in order. */
type Step = { play: 'ok' | 'hangup' | 'error' } | { input: DigitResult }

/** A fake call that follows a script and records what the runner asked of it. */
class ScriptedCall implements ActiveCall {
  readonly callId = 'call-test'
  hungUp = false
  hangups = 0
  played: string[] = []
  prompts: number[] = []
  private readonly script: Step[]

  constructor(script: Step[]) {
    this.script = [...script]
  }

  async play(audioUrl: string): Promise<PlayResult> {
    this.played.push(audioUrl)
    const step = this.script.shift() ?? { play: 'ok' }
    if (!('play' in step)) throw new Error(`script expected input, runner played ${audioUrl}`)
    if (step.play === 'hangup') {
      this.hungUp = true
      return { completed: false }
    }
    if (step.play === 'error') return { completed: false, error: 'audio not found' }
    return { completed: true }
  }

  async collectDigit(timeoutSeconds: number): Promise<DigitResult> {
    this.prompts.push(timeoutSeconds)
    const step = this.script.shift()
    if (!step || !('input' in step)) throw new Error('script expected play, runner collected a digit')
    if (step.input.kind === 'hangup') this.hungUp = true
    return step.input
  }

  async hangup(): Promise<{ hangupCause?: number }> {
    this.hangups++
    this.hungUp = true
    return { hangupCause: 16 }
  }
}

class RecordingActions implements ActionRunner {
  ran: { type: string; digit: string }[] = []
  constructor(private readonly failOn: string[] = []) {}
  async run(action: IvrAction, ctx: { digit: string }): Promise<void> {
    this.ran.push({ type: action.type, digit: ctx.digit })
    if (this.failOn.includes(action.type)) throw new Error(`${action.type} failed: db down`)
  }
}

const seedFlow = IvrFlow.parse({
  startNodeId: 'node-1',
  nodes: [
    { id: 'node-1', type: 'play_audio', audioUrl: 'intro.mp3', nextNodeId: 'node-2' },
    {
      id: 'node-2',
      type: 'capture_input',
      timeout: 10,
      validInputs: ['1', '9'],
      actions: { '1': { type: 'trigger_donation' }, '9': { type: 'add_to_blacklist' } },
    },
  ],
})

const replayFlow = IvrFlow.parse({
  startNodeId: 'intro',
  nodes: [
    { id: 'intro', type: 'play_audio', audioUrl: 'intro.mp3', nextNodeId: 'ask' },
    {
      id: 'ask',
      type: 'capture_input',
      timeout: 5,
      validInputs: ['1', '2', '0'],
      actions: {
        '1': { type: 'trigger_donation', parameters: { amount: 10 } },
        '2': { type: 'goto', parameters: { nodeId: 'intro' } },
        '0': { type: 'hangup' },
      },
      nextNodeId: 'thanks',
      onInvalidNodeId: 'sorry',
      onTimeoutNodeId: 'ask-again',
    },
    { id: 'sorry', type: 'play_audio', audioUrl: 'sorry.mp3', nextNodeId: 'ask' },
    { id: 'ask-again', type: 'play_audio', audioUrl: 'still-there.mp3', nextNodeId: 'ask' },
    { id: 'thanks', type: 'play_audio', audioUrl: 'thanks.mp3' },
  ],
})

describe('runIvr', () => {
  it('donation path: plays, takes 1, runs trigger_donation, hangs up', async () => {
    const call = new ScriptedCall([{ play: 'ok' }, { input: { kind: 'digit', digit: '1' } }])
    const actions = new RecordingActions()
    const result = await runIvr(seedFlow, call, actions)
    expect(result).toEqual({
      digit: '1',
      digits: ['1'],
      actions: [{ type: 'trigger_donation', ok: true, digit: '1' }],
      endedBy: 'completed',
      steps: 2,
    })
    expect(actions.ran).toEqual([{ type: 'trigger_donation', digit: '1' }])
    expect(call.played).toEqual(['intro.mp3'])
    expect(call.prompts).toEqual([10])
    expect(call.hangups).toBe(1)
  })

  it('blacklist path: 9 runs add_to_blacklist', async () => {
    const call = new ScriptedCall([{ play: 'ok' }, { input: { kind: 'digit', digit: '9' } }])
    const actions = new RecordingActions()
    const result = await runIvr(seedFlow, call, actions)
    expect(result.digit).toBe('9')
    expect(result.actions).toEqual([{ type: 'add_to_blacklist', ok: true, digit: '9' }])
    expect(actions.ran).toEqual([{ type: 'add_to_blacklist', digit: '9' }])
    expect(result.endedBy).toBe('completed')
  })

  it('a failing action is recorded with its error and the flow goes on', async () => {
    const call = new ScriptedCall([{ play: 'ok' }, { input: { kind: 'digit', digit: '1' } }, { play: 'ok' }])
    const result = await runIvr(replayFlow, call, new RecordingActions(['trigger_donation']))
    expect(result.actions).toEqual([
      { type: 'trigger_donation', ok: false, digit: '1', error: 'trigger_donation failed: db down' },
    ])
    expect(call.played).toEqual(['intro.mp3', 'thanks.mp3'])
    expect(result.endedBy).toBe('completed')
  })

  it('invalid digit replays through onInvalidNodeId, then the valid one counts', async () => {
    const call = new ScriptedCall([
      { play: 'ok' },
      { input: { kind: 'digit', digit: '7' } },
      { play: 'ok' },
      { input: { kind: 'digit', digit: '1' } },
      { play: 'ok' },
    ])
    const actions = new RecordingActions()
    const result = await runIvr(replayFlow, call, actions)
    expect(call.played).toEqual(['intro.mp3', 'sorry.mp3', 'thanks.mp3'])
    expect(result.digits).toEqual(['7', '1'])
    expect(result.digit).toBe('1')
    expect(actions.ran).toEqual([{ type: 'trigger_donation', digit: '1' }])
    expect(result.endedBy).toBe('completed')
  })

  it('invalid digit without onInvalidNodeId ends the run', async () => {
    const call = new ScriptedCall([{ play: 'ok' }, { input: { kind: 'digit', digit: '5' } }])
    const actions = new RecordingActions()
    const result = await runIvr(seedFlow, call, actions)
    expect(result.endedBy).toBe('invalid-input')
    expect(result.digit).toBeUndefined()
    expect(result.digits).toEqual(['5'])
    expect(actions.ran).toEqual([])
    expect(call.hangups).toBe(1)
  })

  it('timeout without onTimeoutNodeId ends the run; with it, goes there', async () => {
    const plain = new ScriptedCall([{ play: 'ok' }, { input: { kind: 'timeout' } }])
    const r1 = await runIvr(seedFlow, plain, new RecordingActions())
    expect(r1.endedBy).toBe('timeout')
    expect(r1.actions).toEqual([])
    expect(plain.hangups).toBe(1)

    const replay = new ScriptedCall([
      { play: 'ok' },
      { input: { kind: 'timeout' } },
      { play: 'ok' },
      { input: { kind: 'digit', digit: '0' } },
    ])
    const r2 = await runIvr(replayFlow, replay, new RecordingActions())
    expect(replay.played).toEqual(['intro.mp3', 'still-there.mp3'])
    expect(r2.endedBy).toBe('hangup-action')
    expect(r2.actions).toEqual([{ type: 'hangup', ok: true, digit: '0' }])
    expect(replay.hangups).toBe(1)
  })

  it('callee hang-up during playback ends the run without running actions or hanging up again', async () => {
    const call = new ScriptedCall([{ play: 'hangup' }])
    const actions = new RecordingActions()
    const result = await runIvr(seedFlow, call, actions)
    expect(result.endedBy).toBe('callee-hangup')
    expect(result.actions).toEqual([])
    expect(actions.ran).toEqual([])
    expect(call.prompts).toEqual([])
    expect(call.hangups).toBe(0)
  })

  it('callee hang-up while collecting ends the run', async () => {
    const call = new ScriptedCall([{ play: 'ok' }, { input: { kind: 'hangup' } }])
    const result = await runIvr(seedFlow, call, new RecordingActions())
    expect(result.endedBy).toBe('callee-hangup')
    expect(call.hangups).toBe(0)
  })

  it('goto loops are bounded by maxSteps', async () => {
    // The callee presses 2 (goto intro) forever.
    const script: Step[] = []
    for (let i = 0; i < 100; i++) script.push({ play: 'ok' }, { input: { kind: 'digit', digit: '2' } })
    const call = new ScriptedCall(script)
    const result = await runIvr(replayFlow, call, new RecordingActions(), { maxSteps: 7 })
    expect(result.endedBy).toBe('step-limit')
    expect(result.steps).toBe(7)
    expect(call.played).toHaveLength(4)
    expect(result.actions.every((a) => a.type === 'goto' && a.ok)).toBe(true)
    expect(call.hangups).toBe(1)
  })

  it('the default step bound is 50', async () => {
    const script: Step[] = []
    for (let i = 0; i < 100; i++) script.push({ play: 'ok' }, { input: { kind: 'timeout' } })
    const result = await runIvr(replayFlow, new ScriptedCall(script), new RecordingActions())
    expect(result.endedBy).toBe('step-limit')
    expect(result.steps).toBe(50)
  })

  it('playback failure and an unknown node end the run with an error', async () => {
    const r1 = await runIvr(seedFlow, new ScriptedCall([{ play: 'error' }]), new RecordingActions())
    expect(r1).toMatchObject({ endedBy: 'error', error: 'audio not found' })

    const broken = IvrFlow.parse({
      startNodeId: 'a',
      nodes: [{ id: 'a', type: 'play_audio', audioUrl: 'a.mp3', nextNodeId: 'missing' }],
    })
    const r2 = await runIvr(broken, new ScriptedCall([{ play: 'ok' }]), new RecordingActions())
    expect(r2).toMatchObject({ endedBy: 'error', error: 'ivrFlow: node "missing" does not exist' })
  })

  it('goto without parameters.nodeId is a recorded error', async () => {
    const flow = IvrFlow.parse({
      startNodeId: 'ask',
      nodes: [
        {
          id: 'ask',
          type: 'capture_input',
          timeout: 3,
          validInputs: ['3'],
          actions: { '3': { type: 'goto' } },
        },
      ],
    })
    const result = await runIvr(
      flow,
      new ScriptedCall([{ input: { kind: 'digit', digit: '3' } }]),
      new RecordingActions(),
    )
    expect(result.endedBy).toBe('error')
    expect(result.actions).toEqual([
      { type: 'goto', ok: false, digit: '3', error: 'goto on digit 3 of node "ask" needs parameters.nodeId' },
    ])
  })
})
