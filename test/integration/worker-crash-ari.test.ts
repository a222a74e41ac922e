import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { startFakeAri, type FakeAriServer } from '../helpers/fake-ari-server.js'
import { contactRow, dialCommand, insertCampaign, insertContact } from './worker-fixtures.js'

/**
 * #14 item 1: a worker killed mid-call (kill -9) leaves its channels up in its Stasis app. The
 * next worker process with the same WORKER_ID (→ the same default app, dialctl-<workerId>)
 * reconciles on connect: hangs them up and closes their rows with the outcome Asterisk's state
 * implies — an answered callee is never re-dialed because we crashed.
 */

const TOKEN = 'crash-test-token-0123456789'
const WORKER_ID = 'w-crash'
let tdb: TestDb
let fake: FakeAriServer

beforeAll(async () => {
  tdb = await createTestDb('worker_crash_ari')
  await insertCampaign(tdb.pool, 'camp-1')
  fake = await startFakeAri({ playbackMs: 20 })
})
afterAll(async () => {
  await fake.stop()
  await tdb.drop()
})

function startMain(env: Record<string, string>): {
  child: ChildProcess
  lines: string[]
  listening: Promise<number>
  exit: Promise<number | null>
} {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    ...tdb.env,
    PORT: '0',
    WORKER_TOKEN: TOKEN,
    WORKER_ID,
    DRIVER: 'ari',
    ARI_URL: fake.url,
    ARI_USER: fake.username,
    ARI_PASSWORD: fake.password,
    ARI_ENDPOINT_TEMPLATE: 'PJSIP/{digits}@trunk',
    RING_TIMEOUT_SECONDS: '60',
    ...env,
  }
  // an empty value means "unset" (WORKER_ID: '' → a generated id)
  for (const [key, value] of Object.entries(merged)) if (value === '') delete merged[key]
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  )
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line.includes('"worker listening"')) resolve((JSON.parse(line) as { port: number }).port)
    })
    void exit.then((code) => reject(new Error(`worker exited with ${code}:\n${lines.join('\n')}`)))
  })
  listening.catch(() => {})
  return { child, lines, listening, exit }
}

async function dial(port: number, contactId: string, phoneNumber: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/dial`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(dialCommand({ contactId, phoneNumber })),
  })
  return res.status
}

async function callRow(contactId: string) {
  const { rows } = await tdb.pool.query(
    `SELECT status, reason, ended_by, answered_at IS NOT NULL AS answered FROM call_attempts WHERE contact_id = $1`,
    [contactId],
  )
  return rows[0] as { status: string; reason: string | null; ended_by: string | null; answered: boolean }
}

describe('worker crash mid-call, two worker processes in turn against the fake Asterisk', () => {
  it('the successor hangs up the orphan channels: answered → answered + contact done; ringing → failed (retry)', async () => {
    await insertContact(tdb.pool, 'camp-1', 'up', '+972503330011')
    await insertContact(tdb.pool, 'camp-1', 'ringing', '+972503330012')
    fake.onNumber('+972503330011', { kind: 'answer', afterMs: 10 }) // then waits in the capture (10 s)
    fake.onNumber('+972503330012', { kind: 'no-answer', ignoreTimeout: true })

    const first = startMain({})
    const port = await first.listening
    expect(fake.connectedApps()).toEqual([`dialctl-${WORKER_ID}`])
    expect(await dial(port, 'up', '+972503330011')).toBe(202)
    expect(await dial(port, 'ringing', '+972503330012')).toBe(202)
    const upId = 'call-camp-1-up-0'
    const ringingId = 'call-camp-1-ringing-0'
    await vi.waitFor(() => {
      expect(fake.channel(upId)?.state).toBe('Up')
      expect(fake.requests.some((r) => r.path === `/ari/channels/${upId}/play/${upId}-pb1`)).toBe(true)
      expect(fake.channel(ringingId)?.state).toBe('Ringing')
    })

    first.child.kill('SIGKILL')
    await first.exit
    await vi.waitFor(() => expect(fake.connectedApps()).toEqual([]))
    // what the crash leaves: both channels still there, the rows still dialing
    expect(fake.channelIds().sort()).toEqual([ringingId, upId].sort())
    expect((await callRow('up')).status).toBe('dialing')

    // h1's worker identity: the killed process is dead once its heartbeat is older than 30 s (what
    // an orchestrator's restart takes); its successor gets a generated id, hence another app name,
    // and must still find the channels through the dead worker's open rows.
    await tdb.pool.query(
      `UPDATE workers SET heartbeat_at = now() - interval '1 minute' WHERE worker_id = $1`,
      [WORKER_ID],
    )
    const second = startMain({ WORKER_ID: '' })
    try {
      await second.listening
      expect(fake.connectedApps()).toEqual([expect.stringMatching(/^dialctl-worker-/)])
      // reconciled before it listens: the channels are gone, the rows closed
      expect(fake.channelIds()).toEqual([])
      const deletes = fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)
      expect(deletes.sort()).toEqual([`/ari/channels/${ringingId}`, `/ari/channels/${upId}`].sort())
      expect(await callRow('up')).toEqual({
        status: 'answered',
        reason: null,
        ended_by: 'worker-restart',
        answered: true,
      })
      expect(await contactRow(tdb.pool, 'camp-1', 'up')).toMatchObject({
        status: 'done',
        last_outcome: 'answered',
      })
      expect(await callRow('ringing')).toEqual({
        status: 'failed',
        reason: 'worker-restart',
        ended_by: 'worker-restart',
        answered: false,
      })
      expect(await contactRow(tdb.pool, 'camp-1', 'ringing')).toMatchObject({
        status: 'pending',
        last_outcome: 'failed',
      })
      expect(second.lines.some((l) => l.includes('channels left by a previous run hung up'))).toBe(true)
    } finally {
      second.child.kill('SIGTERM')
      const code = await second.exit
      if (code !== 0) console.log(second.lines.join('\n'))
      expect(code).toBe(0)
    }
    expect([...first.lines, ...second.lines].join('\n')).not.toMatch(/\+?97250333001\d/)
  })

  it('refused ARI credentials: exits 1 at start naming ARI_USER / ARI_PASSWORD and the ari.conf section', async () => {
    const run = startMain({ ARI_PASSWORD: 'wrong-password', WORKER_ID: 'w-badauth' })
    await expect(run.listening).rejects.toThrow(/exited with 1/)
    const output = run.lines.join('\n')
    expect(output).toMatch(/ARI_USER \/ ARI_PASSWORD/)
    expect(output).toMatch(/ari\.conf as a \[dialctl\] section/)
    expect(output).not.toContain('wrong-password')
  })
})
