import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_CAMPAIGN_ID } from '../../src/local-stack/demo.js'
import type { LocalStack } from '../../local/stack.js'
import {
  captureOutput,
  checkConservation,
  countAttempts,
  makeTasks,
  openScenario,
  pushTasks,
  queueContacts,
  startStack,
  waitDrained,
  waitFor,
  type ScenarioEnv,
} from './helpers/harness.js'
import { recordResult } from './helpers/results.js'

/**
 * `campaign pause` while tasks are in flight (issue #11: 5 of 38 dials used to start after the
 * pause). The pause is an UPDATE of the campaign row; the dial gate reads that row FOR SHARE in
 * the claim, so a claim either committed before the pause or sees it: 0 call rows may start after
 * the pause's commit, every task ends in exactly one outcome, and the undialed contacts are pending.
 */
const TASKS = 60

describe('fault: campaign paused while its tasks are in flight', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()

  beforeAll(async () => {
    env = await openScenario('pause_gate')
    stack = await startStack(env, { maxCps: 10 }, { WORKER_TOKEN: token })
  })

  afterAll(async () => {
    await stack?.stop()
    logs.stop()
    await env?.cleanup()
  })

  it('0 dials after the pause commits; nothing lost, nothing dialed twice', async () => {
    const started = Date.now()
    const tasks = makeTasks(TASKS, 'pz', { offset: 400 })
    await queueContacts(env.db, tasks)
    const pushed = await pushTasks(stack!.queue, tasks)
    await waitFor(async () => (await countAttempts(env.db)) >= 8, 60_000, '8 dials before the pause')
    const { rows } = await env.db.query<{ paused_at: Date }>(
      `UPDATE campaigns SET status = 'paused' WHERE id = $1 RETURNING clock_timestamp() AS paused_at`,
      [DEMO_CAMPAIGN_ID],
    )
    const pausedAt = rows[0]!.paused_at
    await waitDrained(env.db, { timeoutMs: 90_000 })
    await stack!.worker.idle()

    const { rows: late } = await env.db.query<{ n: string }>(
      'SELECT count(*) AS n FROM call_attempts WHERE started_at > $1',
      [pausedAt],
    )
    const c = await checkConservation(env.db, pushed)
    const dialed = await countAttempts(env.db)
    recordResult({
      scenario: 'paused while in flight (dial gate)',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds: (Date.now() - started) / 1000,
      note: `${dialed} dialed before the pause, ${Number(late[0]!.n)} after it; ${TASKS - dialed} refused and released to pending`,
    })
    expect(Number(late[0]!.n)).toBe(0)
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.remaining).toBe(0)
    expect(c.outcomes).toEqual({ dialed, dropped: TASKS - dialed })
    for (const [, reason] of c.reasons) expect(reason).toMatch(/^campaign_(not_active: campaign is )?paused/)
    const { rows: pending } = await env.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM contacts WHERE campaign_id = $1 AND status = 'pending' AND attempts = 0`,
      [DEMO_CAMPAIGN_ID],
    )
    expect(Number(pending[0]!.n)).toBe(TASKS - dialed)
  })
})
