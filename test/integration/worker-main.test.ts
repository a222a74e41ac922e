import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { beginCall } from '../../src/calls/recorder.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { contactRow, dialCommand, insertCampaign, insertContact } from './worker-fixtures.js'

const TOKEN = 'main-test-token-0123456789'
let tdb: TestDb

beforeAll(async () => {
  tdb = await createTestDb('worker_main')
  await insertCampaign(tdb.pool, 'camp-1')
})
afterAll(async () => {
  await tdb.drop()
})

/** Starts worker/main.ts as users run it; resolves with its port once it logs "worker listening". */
function startMain(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    env: { ...process.env, ...tdb.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line.includes('"worker listening"'))
        resolve({ child, port: (JSON.parse(line) as { port: number }).port, lines })
    })
    child.on('exit', (code) => reject(new Error(`worker exited with ${code}:\n${lines.join('\n')}`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

describe('worker/main.ts', () => {
  it('on start closes the calls a crashed run left open, serves, and drains on SIGTERM', async () => {
    await insertContact(tdb.pool, 'camp-1', 'crashed', '+972503330001', { status: 'queued' })
    const left = dialCommand({ contactId: 'crashed', phoneNumber: '+972503330001' })
    await beginCall(tdb.pool, left, 'w-main')

    const { child, port, lines } = await startMain({
      WORKER_TOKEN: TOKEN,
      WORKER_ID: 'w-main',
      DRIVER: 'sim',
      SIM_SPEED: '0',
      SIM_OPTIONS: JSON.stringify({ answerRate: 1, busyRate: 0, dtmf: { '1': 1 } }),
    })
    try {
      const { rows } = await tdb.pool.query('SELECT status, error FROM call_attempts WHERE call_id = $1', [
        left.callId,
      ])
      expect(rows).toEqual([{ status: 'failed', error: 'worker restarted while the call was open' }])
      expect(await contactRow(tdb.pool, 'camp-1', 'crashed')).toMatchObject({
        status: 'pending',
        last_outcome: 'failed',
      })
      expect(lines.some((l) => l.includes('closed calls left open by a previous run'))).toBe(true)

      const health = await fetch(`http://127.0.0.1:${port}/health`)
      expect(health.status).toBe(200)
      // the dial gate dials only contacts that exist (issue #11)
      await insertContact(tdb.pool, 'camp-1', 'fresh', '+972503330002', { status: 'queued' })
      const res = await fetch(`http://127.0.0.1:${port}/dial`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(dialCommand({ contactId: 'fresh', phoneNumber: '+972503330002' })),
      })
      expect(res.status).toBe(202)
    } finally {
      const exit = exited(child)
      child.kill('SIGTERM')
      expect(await exit).toBe(0)
    }
    const { rows } = await tdb.pool.query(
      `SELECT status, digit FROM call_attempts WHERE contact_id = 'fresh'`,
    )
    expect(rows).toEqual([{ status: 'answered', digit: '1' }])
    // no full phone number in any log line
    expect(lines.join('\n')).not.toMatch(/\+97250333000\d/)
  })

  it('refuses to start without a usable WORKER_TOKEN, naming the variable', async () => {
    await expect(startMain({ WORKER_TOKEN: 'short' })).rejects.toThrow(
      /WORKER_TOKEN: WORKER_TOKEN must be at least 16/,
    )
  })
})
