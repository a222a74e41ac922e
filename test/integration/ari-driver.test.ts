import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { createAriDriver, type AriDriver, type ReconcileReport } from '../../worker/drivers/ari/index.js'
import { startFakeAri, type FakeAriServer } from '../helpers/fake-ari-server.js'

const PHONE = '+972501234567'
let seq = 0
const nextCallId = () => `call-camp-ari-c${++seq}-0`

function makeDriver(
  fake: FakeAriServer,
  overrides: Partial<Parameters<typeof createAriDriver>[0]> = {},
): AriDriver {
  return createAriDriver({
    url: fake.url,
    username: fake.username,
    password: fake.password,
    app: 'dialctl-test',
    endpointTemplate: 'PJSIP/{digits}@trunk',
    callerId: '+97231234567',
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    heartbeatMs: 0,
    ringGraceMs: 150,
    hangupWaitMs: 1_000,
    ...overrides,
  })
}

const request = (callId: string, ringTimeoutSeconds = 5) => ({
  callId,
  phoneNumber: PHONE,
  ringTimeoutSeconds,
  variables: { CAMPAIGN_ID: 'camp-ari', CONTACT_ID: 'c1', ATTEMPT: '0' },
})

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  await vi.waitUntil(check, { timeout: timeoutMs, interval: 10 }).catch(() => {
    throw new Error(`timed out waiting for ${what}`)
  })
}

describe('ARI driver against the fake Asterisk', () => {
  let fake: FakeAriServer
  let driver: AriDriver

  beforeEach(async () => {
    fake = await startFakeAri({ playbackMs: 20, failMedia: (uri) => uri.includes('missing') })
    driver = makeDriver(fake)
    expect(await driver.waitConnected(5_000)).toBe(true)
  })

  afterEach(async () => {
    await driver.close()
    await fake.stop()
  })

  it('originates with callId as the channel id, the endpoint template, caller id, timeout and variables', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { result, call } = await driver.originate(request(callId, 7))
    expect(result).toEqual({ outcome: 'answered' })
    expect(call?.callId).toBe(callId)
    const originate = fake.requests.find((r) => r.method === 'POST' && r.path === `/ari/channels/${callId}`)
    expect(originate?.query).toEqual({
      endpoint: 'PJSIP/972501234567@trunk',
      app: 'dialctl-test',
      appArgs: 'dialctl',
      callerId: '+97231234567',
      timeout: '7',
    })
    expect(originate?.body).toEqual({
      variables: { CAMPAIGN_ID: 'camp-ari', CONTACT_ID: 'c1', ATTEMPT: '0', DIALCTL_CALL_ID: callId },
    })
    await call!.hangup()
  })

  it('answered: plays http(s) audio as sound:<url>, collects the digit, hangs up with cause 16, drops listeners', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10, digits: [{ digit: '1', afterMs: 150 }] })
    const { call } = await driver.originate(request(callId))
    const played = await call!.play('https://cdn.example.com/audio/donate.wav')
    expect(played).toEqual({ completed: true })
    const play = fake.requests.find((r) => r.path.startsWith(`/ari/channels/${callId}/play/`))
    expect(play?.path).toBe(`/ari/channels/${callId}/play/${callId}-pb1`)
    expect(play?.query).toEqual({ media: 'sound:https://cdn.example.com/audio/donate.wav' })

    expect(await call!.collectDigit(5)).toEqual({ kind: 'digit', digit: '1' })
    expect(await call!.hangup()).toEqual({ hangupCause: 16 })
    expect(call!.hungUp).toBe(true)
    const del = fake.requests.find((r) => r.method === 'DELETE')
    expect(del).toMatchObject({ path: `/ari/channels/${callId}`, query: { reason_code: '16' } })
    expect(fake.channelIds()).not.toContain(callId)
    expect(driver.client.channelListenerCount()).toBe(0)
    expect(driver.activeCallIds()).toEqual([])
  })

  it('busy: ChannelDestroyed cause 17 before answer → busy, no call', async () => {
    fake.onNumber(PHONE, { kind: 'busy', afterMs: 20 })
    const { result, call } = await driver.originate(request(nextCallId()))
    expect(result).toEqual({ outcome: 'busy', hangupCause: 17 })
    expect(call).toBeUndefined()
    expect(driver.client.channelListenerCount()).toBe(0)
  })

  it('no answer: Asterisk gives up after the originate timeout (cause 19) → no-answer', async () => {
    fake.onNumber(PHONE, { kind: 'no-answer' })
    const { result } = await driver.originate(request(nextCallId(), 1))
    expect(result).toEqual({ outcome: 'no-answer', hangupCause: 19 })
  })

  it('no answer: when Asterisk does not end it, the driver ring timer hangs up with reason_code 19', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'no-answer', ignoreTimeout: true })
    const { result } = await driver.originate(request(callId, 1))
    expect(result).toEqual({ outcome: 'no-answer', hangupCause: 19 })
    await until(() => !fake.channelIds().includes(callId), 'the fake channel to be hung up')
    expect(fake.requests.find((r) => r.method === 'DELETE')?.query).toEqual({ reason_code: '19' })
  })

  it('maps congestion and failure causes; failed carries the cause text', async () => {
    fake.onNumber(PHONE, { kind: 'reject', cause: 34, dialStatus: 'CONGESTION' })
    expect((await driver.originate(request(nextCallId()))).result).toEqual({
      outcome: 'congestion',
      hangupCause: 34,
    })
    fake.onNumber(PHONE, { kind: 'reject', cause: 1, causeTxt: 'Unallocated (unassigned) number' })
    expect((await driver.originate(request(nextCallId()))).result).toEqual({
      outcome: 'failed',
      hangupCause: 1,
      error: 'channel ended before answer: Unallocated (unassigned) number',
    })
    // normal clearing before answer says nothing by itself: the Dial status decides, outcome and
    // recorded cause alike (#14: the cause the dial status implies, 17, not the ambiguous 16)
    fake.onNumber(PHONE, { kind: 'reject', cause: 16, dialStatus: 'BUSY' })
    expect((await driver.originate(request(nextCallId()))).result).toEqual({
      outcome: 'busy',
      hangupCause: 17,
    })
  })

  it('collectDigit: times out without a key; resolves "hangup" when the callee hangs up; then play does not complete', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { call } = await driver.originate(request(callId))
    expect(await call!.collectDigit(0.2)).toEqual({ kind: 'timeout' })
    const waiting = call!.collectDigit(30)
    fake.calleeHangup(callId)
    expect(await waiting).toEqual({ kind: 'hangup' })
    expect(call!.hungUp).toBe(true)
    expect(await call!.play('sound:hello-world')).toEqual({ completed: false })
    expect(await call!.hangup()).toEqual({ hangupCause: 16 })
    expect(fake.requests.some((r) => r.method === 'DELETE')).toBe(false)
  })

  it('play: a failed playback and an unplayable URL resolve with an error that says what to fix', async () => {
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { call } = await driver.originate(request(nextCallId()))
    const failed = await call!.play('https://cdn.example.com/missing.wav')
    expect(failed.completed).toBe(false)
    expect(failed.error).toMatch(/could not play sound:https:\/\/cdn\.example\.com\/missing\.wav/)
    const requestsBefore = fake.requests.length
    const bad = await call!.play('ftp://files.example.com/a.wav')
    expect(bad.completed).toBe(false)
    expect(bad.error).toMatch(/scheme Asterisk cannot play/)
    expect(fake.requests.length).toBe(requestsBefore)
    await call!.hangup()
  })

  it('refuses to originate while ARI is not connected (wrong password): healthy() is false', async () => {
    const wrong = makeDriver(fake, { password: 'wrong', app: 'dialctl-wrong' })
    try {
      expect(await wrong.waitConnected(300)).toBe(false)
      expect(wrong.healthy()).toBe(false)
      const { result } = await wrong.originate(request(nextCallId()))
      expect(result.outcome).toBe('failed')
      expect(result.error).toMatch(/ARI is not connected/)
    } finally {
      await wrong.close()
    }
  })

  it('a second originate of the same callId while the first runs is refused', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 50 })
    const first = driver.originate(request(callId))
    const second = await driver.originate(request(callId))
    expect(second.result).toEqual({
      outcome: 'failed',
      error: `call ${callId} is already in progress on this worker`,
    })
    const { call } = await first
    await call!.hangup()
  })

  it('Asterisk restart mid-call: unhealthy while down, reconnects, reconciles — nothing stays active', async () => {
    const answeredId = nextCallId()
    const ringingId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { call } = await driver.originate(request(answeredId))
    fake.onNumber(PHONE, { kind: 'no-answer', ignoreTimeout: true })
    const ringing = driver.originate(request(ringingId, 30))
    await until(() => fake.channelIds().includes(ringingId), 'the second call to ring')
    const reports: ReconcileReport[] = []
    driver.onReconcile((r) => reports.push(r))

    const digit = call!.collectDigit(30)
    // Asterisk stays down until the checks below have seen it down, then comes back.
    let seenDown!: () => void
    const restarted = fake.restart({ until: new Promise<void>((resolve) => (seenDown = resolve)) })
    await until(() => !driver.healthy(), 'the driver to notice the restart')
    expect(driver.state()).not.toBe('connected')
    seenDown()
    await restarted
    expect(await driver.waitConnected(5_000)).toBe(true)

    expect(await digit).toEqual({ kind: 'hangup' })
    expect((await ringing).result).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/Asterisk restarted/),
    })
    await until(() => reports.length > 0, 'a reconcile report')
    expect(reports[0]!.ended.map((e) => e.callId).sort()).toEqual([answeredId, ringingId].sort())
    expect(driver.activeCallIds()).toEqual([])
    expect(driver.client.channelListenerCount()).toBe(0)
    // the app is registered again: a new call goes through
    fake.onNumber(PHONE, { kind: 'busy' })
    expect((await driver.originate(request(nextCallId()))).result.outcome).toBe('busy')
  })

  it('a network blip (socket dropped, channel alive) keeps the call: digits after the reconnect still arrive', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { call } = await driver.originate(request(callId))
    fake.dropSockets()
    await until(() => !driver.healthy(), 'the disconnect')
    expect(await driver.waitConnected(5_000)).toBe(true)
    await until(() => fake.connectedApps().includes('dialctl-test'), 'the app to be registered again')
    const digit = call!.collectDigit(5)
    fake.pressDigit(callId, '9')
    expect(await digit).toEqual({ kind: 'digit', digit: '9' })
    expect(call!.hungUp).toBe(false)
    await call!.hangup()
  })

  it('a PlaybackFinished lost while disconnected is recovered on reconnect (GET /playbacks/{id} → 404)', async () => {
    await driver.close()
    await fake.stop()
    fake = await startFakeAri({ playbackMs: 150 })
    driver = makeDriver(fake)
    expect(await driver.waitConnected(5_000)).toBe(true)
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { call } = await driver.originate(request(callId))
    const played = call!.play('sound:long-prompt')
    await until(() => fake.requests.some((r) => r.path.includes('/play/')), 'the play request')
    fake.partition(true)
    // the playback ends (150 ms) while nobody listens: its PlaybackFinished is lost
    await until(
      () => fake.sentEvents.some((e) => e.type === 'PlaybackFinished'),
      'the playback to end unheard',
    )
    expect(driver.healthy()).toBe(false)
    fake.partition(false)
    expect(await played).toEqual({ completed: true })
    expect(fake.requests.some((r) => r.method === 'GET' && r.path === `/ari/playbacks/${callId}-pb1`)).toBe(
      true,
    )
    await call!.hangup()
  })

  it('ring timer firing during a partition → failed (not no-answer); the channel is hung up after the reconnect', async () => {
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'no-answer', ignoreTimeout: true })
    const ringing = driver.originate(request(callId, 1))
    await until(() => fake.channelIds().includes(callId), 'the call to ring')
    // partitioned for longer than the ring time: the driver's hang-up cannot reach Asterisk
    fake.partition(true)
    const { result } = await ringing
    expect(result.outcome).toBe('failed')
    expect(result.error).toMatch(/lost the ARI connection while ringing/)
    // the driver's DELETE reached Asterisk during the partition and was refused
    await until(() => fake.requests.some((r) => r.method === 'DELETE'), 'the refused hang-up')
    expect(fake.channelIds()).toContain(callId)
    fake.partition(false)
    expect(await driver.waitConnected(5_000)).toBe(true)
    // reconciliation hangs up the channel we gave up on
    await until(() => !fake.channelIds().includes(callId), 'the abandoned channel to be hung up')
    expect(fake.requests.filter((r) => r.method === 'DELETE').at(-1)?.query).toEqual({ reason_code: '16' })
  })

  it('ARI gone longer than disconnectGraceMs: a playback waiting for its event is given up, the call ends', async () => {
    await driver.close()
    await fake.stop()
    fake = await startFakeAri({ playbackMs: 60_000 })
    driver = makeDriver(fake, { disconnectGraceMs: 300 })
    expect(await driver.waitConnected(5_000)).toBe(true)
    const callId = nextCallId()
    fake.onNumber(PHONE, { kind: 'answer', afterMs: 10 })
    const { call } = await driver.originate(request(callId))
    const played = call!.play('sound:very-long-prompt')
    await until(() => fake.requests.some((r) => r.path.includes('/play/')), 'the play request')
    fake.partition(true)
    expect(await played).toEqual({ completed: false })
    expect(call!.hungUp).toBe(true)
    expect(driver.activeCallIds()).toEqual([])
    // when ARI is back, the channel we gave up on is hung up
    fake.partition(false)
    expect(await driver.waitConnected(5_000)).toBe(true)
    await until(() => !fake.channelIds().includes(callId), 'the given-up channel to be hung up')
  })

  it('ApplicationReplaced: another connection takes the app → unhealthy "replaced", then re-registers', async () => {
    const intruder = new WebSocket(
      `${fake.url.replace('http', 'ws')}/ari/events?app=dialctl-test&api_key=${fake.username}:${fake.password}`,
    )
    await new Promise((resolve) => intruder.once('open', resolve))
    await until(() => driver.state() === 'replaced', 'the replaced state')
    expect(driver.healthy()).toBe(false)
    intruder.close()
    expect(await driver.waitConnected(5_000)).toBe(true)
  })
})
