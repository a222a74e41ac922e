import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addToBlacklist } from '../../src/campaigns/contacts.js'
import { LOCAL_PIPE_NAME, type LocalStack } from '../../local/stack.js'
import { setPipeDesiredState, waitForPipeState } from '../../src/pipe/state.js'
import {
  captureOutput,
  checkConservation,
  makeTasks,
  openScenario,
  pushTasks,
  queueContacts,
  scanLogs,
  startStack,
  taskKey,
  waitDrained,
  type ScenarioEnv,
} from './helpers/harness.js'
import { recordResult } from './helpers/results.js'

/**
 * A callee opts out (or an operator blacklists the number) while the task already waits in the
 * queue: the pipe is stopped, tasks are pushed, numbers are blacklisted, the pipe starts again.
 * Enrich checks the blacklist right before dialing: those tasks are never dialed, recorded as
 * dropped (blacklisted), their contacts failed with last_outcome 'blacklisted'.
 */
const TASKS = 40
const BLACKLISTED = 10

describe('fault: a number blacklisted while its task waits in the queue', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()

  beforeAll(async () => {
    env = await openScenario('blacklist')
    stack = await startStack(env, { maxCps: 50 }, { WORKER_TOKEN: token })
  })

  afterAll(async () => {
    await stack?.stop()
    logs.stop()
    await env?.cleanup()
  })

  it('never dials the blacklisted numbers; records them dropped (blacklisted)', async () => {
    const started = Date.now()
    await setPipeDesiredState(env.db, LOCAL_PIPE_NAME, 'STOPPED', 'fault: tasks wait')
    await waitForPipeState(env.db, LOCAL_PIPE_NAME, 'STOPPED', { timeoutMs: 20_000 })

    const tasks = makeTasks(TASKS, 'bl', { offset: 200 })
    await queueContacts(env.db, tasks)
    const pushed = await pushTasks(stack!.queue, tasks)
    // every fourth number, while its task waits
    const black = tasks.filter((_, i) => i % 4 === 1).slice(0, BLACKLISTED)
    for (const t of black)
      await addToBlacklist(env.db, {
        phoneNumber: t.phoneNumber,
        reason: 'opted out (fault suite)',
        source: 'operator',
      })

    await setPipeDesiredState(env.db, LOCAL_PIPE_NAME, 'RUNNING', 'fault: resume')
    await waitDrained(env.db, { timeoutMs: 60_000 })
    await stack!.worker.idle()
    const seconds = (Date.now() - started) / 1000

    const c = await checkConservation(env.db, pushed)
    recordResult({
      scenario: 'blacklisted while queued',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `${BLACKLISTED} numbers blacklisted while the pipe was stopped; 0 of them dialed`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.remaining).toBe(0)
    expect(c.outcomes).toEqual({ dialed: TASKS - BLACKLISTED, dropped: BLACKLISTED })

    const blackKeys = new Set(black.map(taskKey))
    const { rows: dialed } = await env.db.query<{ phone_number: string }>(
      'SELECT phone_number FROM call_attempts',
    )
    const blackPhones = new Set(black.map((t) => t.phoneNumber))
    expect(dialed.filter((r) => blackPhones.has(r.phone_number))).toEqual([])
    for (const key of blackKeys) expect(c.reasons.get(key), key).toBe('blacklisted')
    const { rows: contacts } = await env.db.query<{
      id: string
      status: string
      last_outcome: string | null
    }>('SELECT id, status, last_outcome FROM contacts WHERE id = ANY($1::text[]) ORDER BY id', [
      black.map((t) => t.contactId),
    ])
    expect(contacts).toHaveLength(BLACKLISTED)
    for (const row of contacts) expect(row).toMatchObject({ status: 'failed', last_outcome: 'blacklisted' })
    expect(
      scanLogs(
        logs.text(),
        tasks.map((t) => t.phoneNumber),
        [token],
      ),
    ).toEqual([])
  })
})
