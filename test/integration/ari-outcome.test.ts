import { describe, expect, it } from 'vitest'
import { ariConfigFromEnv, mediaUriFor, outcomeForUnanswered } from '../../worker/drivers/ari/index.js'
import { resultForUnanswered } from '../../worker/drivers/ari/outcome.js'

// Pure rules of the ARI driver (no server): hang-up cause mapping, media URIs, env config.

describe('outcomeForUnanswered (Q.850 cause before answer)', () => {
  const plain = { ringTimedOut: false }
  it.each([
    [17, 'busy'],
    [18, 'no-answer'],
    [19, 'no-answer'],
    [21, 'no-answer'],
    [34, 'congestion'],
    [38, 'congestion'],
    [41, 'congestion'],
    [42, 'congestion'],
    [44, 'congestion'],
    [1, 'failed'],
    [28, 'failed'],
    [127, 'failed'],
  ] as const)('cause %i → %s', (cause, outcome) => {
    expect(outcomeForUnanswered(cause, plain)).toBe(outcome)
  })

  it('normal clearing / unknown: the Dial status decides, then whether the ring time ran out', () => {
    expect(outcomeForUnanswered(16, { dialStatus: 'BUSY', ringTimedOut: false })).toBe('busy')
    expect(outcomeForUnanswered(16, { dialStatus: 'NOANSWER', ringTimedOut: false })).toBe('no-answer')
    expect(outcomeForUnanswered(0, { dialStatus: 'CONGESTION', ringTimedOut: false })).toBe('congestion')
    expect(outcomeForUnanswered(16, { dialStatus: 'CHANUNAVAIL', ringTimedOut: true })).toBe('failed')
    expect(outcomeForUnanswered(16, { ringTimedOut: true })).toBe('no-answer')
    expect(outcomeForUnanswered(16, { ringTimedOut: false })).toBe('failed')
    expect(outcomeForUnanswered(undefined, { ringTimedOut: false })).toBe('failed')
  })
})

describe('resultForUnanswered (what originate reports for a channel ended before answer)', () => {
  it('busy via Busy(): cause 0 with Dial BUSY records busy with cause 17 and no error', () => {
    expect(
      resultForUnanswered({ cause: 0, cause_txt: 'Unknown' }, { dialStatus: 'BUSY', ringTimedOut: false }),
    ).toEqual({ outcome: 'busy', hangupCause: 17 })
  })

  it('a failure carries the cause Asterisk gave, by text when it sent one', () => {
    expect(
      resultForUnanswered(
        { cause: 1, cause_txt: 'Unallocated (unassigned) number' },
        { ringTimedOut: false },
      ),
    ).toEqual({
      outcome: 'failed',
      hangupCause: 1,
      error: 'channel ended before answer: Unallocated (unassigned) number',
    })
    expect(resultForUnanswered({ cause: 127 }, { ringTimedOut: false })).toEqual({
      outcome: 'failed',
      hangupCause: 127,
      error: 'channel ended before answer: cause 127',
    })
  })
})

describe('mediaUriFor', () => {
  it('plays http(s) URLs through Asterisk HTTP media as sound:<url>, passes ARI URIs, bare names are sounds', () => {
    expect(mediaUriFor('https://cdn.example.com/a.wav')).toBe('sound:https://cdn.example.com/a.wav')
    expect(mediaUriFor('http://cdn.example.com/a.wav')).toBe('sound:http://cdn.example.com/a.wav')
    expect(mediaUriFor('sound:hello-world')).toBe('sound:hello-world')
    expect(mediaUriFor('recording:greeting')).toBe('recording:greeting')
    expect(mediaUriFor('digits:1234')).toBe('digits:1234')
    expect(mediaUriFor('custom/donate')).toBe('sound:custom/donate')
  })
  it('refuses what Asterisk cannot play, saying what to use instead', () => {
    expect(() => mediaUriFor('ftp://x/a.wav')).toThrow(/scheme Asterisk cannot play; use http\(s\)/)
    expect(() => mediaUriFor('https://x/a,b.wav')).toThrow(/contains a comma/)
  })
})

describe('ariConfigFromEnv', () => {
  const env = {
    ARI_URL: 'http://asterisk:8088',
    ARI_USER: 'dialctl',
    ARI_PASSWORD: 's3cret',
    ARI_ENDPOINT_TEMPLATE: 'PJSIP/{digits}@trunk',
  }
  it('reads the worker env, app defaults to "dialctl"', () => {
    expect(
      ariConfigFromEnv({ ...env, ARI_RING_TIMEOUT_SECONDS: '25', ARI_CALLER_ID: '+97231234567' }),
    ).toEqual({
      url: 'http://asterisk:8088',
      username: 'dialctl',
      password: 's3cret',
      app: 'dialctl',
      endpointTemplate: 'PJSIP/{digits}@trunk',
      callerId: '+97231234567',
      ringTimeoutSeconds: 25,
    })
  })
  it('errors name the variable to set', () => {
    expect(() => ariConfigFromEnv({ ...env, ARI_URL: 'asterisk:8088' })).toThrow(
      /ARI_URL: must be the ARI base URL/,
    )
    expect(() => ariConfigFromEnv({ ...env, ARI_ENDPOINT_TEMPLATE: 'PJSIP/trunk' })).toThrow(
      /ARI_ENDPOINT_TEMPLATE: must contain \{number\} or \{digits\}/,
    )
    expect(() => ariConfigFromEnv({ ...env, ARI_PASSWORD: undefined })).toThrow(
      /ARI_PASSWORD: must be the ari.conf user's password/,
    )
  })
})
