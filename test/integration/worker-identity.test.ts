import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { beginCall } from '../../src/calls/recorder.js'
import {
  generateWorkerId,
  markWorkerStopped,
  recoverOpenCalls,
  registerWorker,
  resolveWorkerId,
  WorkerIdInUseError,
} from '../../src/calls/workers.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { dialCommand, insertCampaign, insertContact } from './worker-fixtures.js'

let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('worker_id')
  await insertCampaign(tdb.pool, 'camp-1')
})
afterAll(async () => {
  await tdb.drop()
})

async function openCall(workerId: string, id: string, phone: string) {
  await insertContact(tdb.pool, 'camp-1', id, phone)
  const cmd = dialCommand({ contactId: id, phoneNumber: phone })
  expect((await beginCall(tdb.pool, cmd, workerId)).duplicate).toBe(false)
  return cmd.callId
}

async function statusOf(callId: string) {
  const { rows } = await tdb.pool.query<{ status: string }>(
    'SELECT status FROM call_attempts WHERE call_id = $1',
    [callId],
  )
  return rows[0]?.status
}

describe('worker identity', () => {
  it('ids are unique per process unless WORKER_ID pins one', () => {
    const a = generateWorkerId('local-stack')
    expect(a).toMatch(/^local-stack-[A-Za-z0-9-]+-\d+-[0-9a-f]{6}$/)
    expect(generateWorkerId('local-stack')).not.toBe(a)
    expect(resolveWorkerId('worker', { WORKER_ID: 'w-7' })).toBe('w-7')
    expect(resolveWorkerId('worker', {})).toMatch(/^worker-/)
  })

  it("a second stack's recovery leaves a live stack's 20 calls alone, and closes them once that stack is dead", async () => {
    await registerWorker(tdb.pool, 'stack-a', 'local-stack')
    const calls: string[] = []
    for (let i = 0; i < 20; i++)
      calls.push(await openCall('stack-a', `a-${i}`, `+9725044400${String(i).padStart(2, '0')}`))

    await registerWorker(tdb.pool, 'stack-b', 'local-stack')
    const first = await recoverOpenCalls(tdb.pool, 'stack-b', 'restart')
    expect(first).toEqual({ closed: [], deadWorkers: [] })
    for (const c of calls) expect(await statusOf(c)).toBe('dialing')

    // stack-a's heartbeat stops (killed): after deadAfter its calls are proven dead
    await tdb.pool.query(
      `UPDATE workers SET heartbeat_at = now() - interval '5 minutes' WHERE worker_id = 'stack-a'`,
    )
    const second = await recoverOpenCalls(tdb.pool, 'stack-b', 'restart')
    expect(second.deadWorkers).toEqual(['stack-a'])
    expect(second.closed.sort()).toEqual([...calls].sort())
    for (const c of calls) expect(await statusOf(c)).toBe('failed')
  })

  it('a live holder of the same WORKER_ID refuses the start, naming it; a stopped one frees the id', async () => {
    await tdb.pool.query(
      `INSERT INTO workers (worker_id, kind, host, pid) VALUES ('pinned', 'worker', 'other-host', 4242)`,
    )
    const refused = registerWorker(tdb.pool, 'pinned', 'worker')
    await expect(refused).rejects.toBeInstanceOf(WorkerIdInUseError)
    await expect(registerWorker(tdb.pool, 'pinned', 'worker')).rejects.toThrow(
      /worker id pinned is in use by worker pid 4242 on other-host/,
    )
    await markWorkerStopped(tdb.pool, 'pinned')
    await expect(registerWorker(tdb.pool, 'pinned', 'worker')).resolves.toBeUndefined()
  })

  it('calls of an id that never registered (an older version) are closed only once older than deadAfter', async () => {
    const young = await openCall('legacy', 'l-1', '+972504450001')
    expect((await recoverOpenCalls(tdb.pool, 'me', 'restart')).closed).toEqual([])
    await tdb.pool.query(
      `UPDATE call_attempts SET started_at = now() - interval '5 minutes' WHERE call_id = $1`,
      [young],
    )
    expect((await recoverOpenCalls(tdb.pool, 'me', 'restart')).closed).toEqual([young])
  })
})

describe('worker identity after a crash on this host', () => {
  it('a dead pid on this host frees its pinned id at once, and its calls are recovered at once', async () => {
    const os = await import('node:os')
    // pid 2^22 + 1 is above Linux's pid_max: no such process
    const deadPid = 4_194_305
    await tdb.pool.query(
      `INSERT INTO workers (worker_id, kind, host, pid) VALUES ('crashed-here', 'worker', $1, $2)`,
      [os.hostname(), deadPid],
    )
    const call = await openCall('crashed-here', 'k-1', '+972504460001')
    await expect(registerWorker(tdb.pool, 'crashed-here', 'worker')).resolves.toBeUndefined()
    await tdb.pool.query(`UPDATE workers SET pid = $1 WHERE worker_id = 'crashed-here'`, [deadPid])
    expect(await recoverOpenCalls(tdb.pool, 'someone-else', 'restart')).toEqual({
      closed: [call],
      deadWorkers: ['crashed-here'],
    })
  })
})
