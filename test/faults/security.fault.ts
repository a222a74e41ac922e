import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { demoCampaign } from '../../src/local-stack/demo.js'
import type { LocalStack } from '../../local/stack.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import {
  captureOutput,
  countAttempts,
  makeTasks,
  queueContacts,
  openScenario,
  pushTasks,
  scanLogs,
  startStack,
  waitDrained,
  type ScenarioEnv,
} from './helpers/harness.js'
import { recordResult } from './helpers/results.js'

/**
 * The worker's only door: POST /dial without the bearer token, or with a wrong one, is refused
 * (401) and dials nothing. And the logs of a whole run — a pipeline run with valid, refused and
 * malformed traffic — never carry a full phone number or the WORKER_TOKEN. (Every other scenario
 * scans its own logs the same way; `dialctl dev`'s stdout is scanned in the SIGKILL scenario.)
 */
describe('fault: /dial authentication and secrets in logs', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()

  beforeAll(async () => {
    env = await openScenario('security')
    stack = await startStack(env, { maxCps: 50 }, { WORKER_TOKEN: token })
  })

  afterAll(async () => {
    await stack?.stop()
    logs.stop()
    await env?.cleanup()
  })

  it('refuses /dial without or with a wrong token (401), dials nothing; no log leaks a number or the token', async () => {
    const started = Date.now()
    const phone = testNumber(950)
    const command = {
      callId: 'call-demo-sec-manual-0',
      phoneNumber: phone,
      campaignId: 'demo',
      contactId: 'sec-manual',
      audioFileUrl: demoCampaign.config.audioFileUrl,
      ivrFlow: demoCampaign.config.ivrFlow,
      attempt: 0,
    }
    // the dial gate dials only an existing contact at its next attempt
    await env.db.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts) VALUES ('demo', 'sec-manual', $1, 'queued', 0)`,
      [phone],
    )
    const attempts: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['wrong token', { authorization: `Bearer ${randomBytes(24).toString('base64url')}` }],
      ['token minus its last character', { authorization: `Bearer ${token.slice(0, -1)}` }],
      ['token plus a character', { authorization: `Bearer ${token}x` }],
      ['token in upper case', { authorization: `Bearer ${token.toUpperCase()}` }],
      ['Basic scheme', { authorization: `Basic ${token}` }],
      ['token without scheme', { authorization: token }],
      ['token in another header', { 'x-worker-token': token }],
    ]
    for (const [what, headers] of attempts) {
      const res = await fetch(`${stack!.workerUrl}/dial`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(command),
      })
      expect(res.status, what).toBe(401)
      expect(res.headers.get('www-authenticate'), what).toBe('Bearer')
      const body = (await res.json()) as { error: string; message: string }
      expect(body.error).toBe('unauthorized')
      // the refusal says what to send, and echoes neither the token nor the number
      expect(body.message).toMatch(/Authorization: Bearer <WORKER_TOKEN>/)
      expect(JSON.stringify(body)).not.toContain(token)
      expect(JSON.stringify(body)).not.toContain(phone)
    }
    expect(await countAttempts(env.db)).toBe(0)
    expect(stack!.worker.metrics().rejected.unauthorized).toBe(attempts.length)

    // the same command with the token is dialed: the refusals above were about the token only
    const ok = await fetch(`${stack!.workerUrl}/dial`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(command),
    })
    expect(ok.status).toBe(202)
    await stack!.worker.idle()
    expect(await countAttempts(env.db)).toBe(1)

    // a pipeline run with valid, unknown-campaign and malformed tasks, to give the logs every path
    const tasks = makeTasks(30, 'sec', { offset: 960 })
    // the dial gate dials only contacts that exist, at their next attempt
    await queueContacts(env.db, tasks)
    const bad = makeTasks(3, 'sec-bad', { offset: 990 })
    await pushTasks(stack!.queue, [...tasks, { ...bad[0]!, campaignId: 'nope' }])
    await stack!.queue.send(JSON.stringify({ ...bad[1], attempts: 'one' }))
    await stack!.queue.send(`not json but a number ${bad[2]!.phoneNumber}`)
    await waitDrained(env.db, { timeoutMs: 60_000 })
    await stack!.worker.idle()
    expect(await countAttempts(env.db)).toBe(1 + tasks.length)

    const text = logs.text()
    const phones = [phone, ...tasks, ...bad].map((t) => (typeof t === 'string' ? t : t.phoneNumber))
    const leaks = scanLogs(text, phones, [token])
    // the scan looked at real log lines that mention these calls (masked)
    expect(text).toMatch(/"phoneNumber":"\+?\*+\d{2}"/)
    expect(text.split('\n').length).toBeGreaterThan(100)
    recordResult({
      scenario: 'security: /dial token, logs',
      tasks: attempts.length + 1 + tasks.length + bad.length,
      outcomes: { 'HTTP 401': attempts.length, dialed: 1 + tasks.length, dropped: bad.length },
      lost: 0,
      duplicated: 0,
      seconds: (Date.now() - started) / 1000,
      note: `${attempts.length} token variants refused; ${text.split('\n').length} log lines scanned, ${leaks.length} leaks`,
    })
    expect(leaks).toEqual([])
  })
})
