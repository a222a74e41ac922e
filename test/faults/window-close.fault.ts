import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { saveCampaign } from '../../src/campaigns/repository.js'
import { nextWindowOpening } from '../../src/campaigns/window.js'
import type { CallingWindow } from '../../src/contracts/index.js'
import { demoCampaign } from '../../src/local-stack/demo.js'
import type { LocalStack } from '../../local/stack.js'
import {
  captureOutput,
  checkConservation,
  countAttempts,
  makeTasks,
  openScenario,
  pushTasks,
  queueContacts,
  scanLogs,
  startStack,
  waitDrained,
  waitFor,
  type ScenarioEnv,
} from './helpers/harness.js'
import { recordResult } from './helpers/results.js'

/**
 * The calling window closes while tasks wait in the queue. Windows are whole hours, so instead of
 * waiting for the clock we move the window: mid-run the campaign's window is edited to one that
 * ended at the top of the current hour — to enrich, exactly what time moving past the window's end
 * looks like. From then on no task may be dialed (bar the one batch already past enrich: the pipe
 * runs one batch at a time here, so at most BATCH dials can start after the edit), and every
 * remaining contact is rescheduled to the window's next opening.
 */
const TASKS = 60
const BATCH = 10
const CAMPAIGN = 'window-fault'

/** A window that has just ended: today from 00:00 to the current hour (UTC), or yesterday all day. */
function endedWindow(now: Date): CallingWindow[] {
  const hour = now.getUTCHours()
  const today = now.getUTCDay()
  return hour >= 1
    ? [{ dayOfWeek: [today], startHour: 0, endHour: hour }]
    : [{ dayOfWeek: [(today + 6) % 7], startHour: 0, endHour: 24 }]
}

describe('fault: the calling window closes while tasks wait', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()

  beforeAll(async () => {
    env = await openScenario('window')
    stack = await startStack(
      env,
      { maxCps: 6, pipeConcurrency: 1, batchSize: BATCH },
      { WORKER_TOKEN: token },
    )
    await saveCampaign(
      env.db,
      { ...demoCampaign, id: CAMPAIGN, timezone: 'UTC' },
      { mode: 'insert', isTest: true },
    )
  })

  afterAll(async () => {
    await stack?.stop()
    logs.stop()
    await env?.cleanup()
  })

  it('dials nothing after the window closes and reschedules the waiting contacts', async () => {
    const started = Date.now()
    const tasks = makeTasks(TASKS, 'win', { offset: 300, campaignId: CAMPAIGN })
    await queueContacts(env.db, tasks)
    const pushed = await pushTasks(stack!.queue, tasks)
    await waitFor(async () => (await countAttempts(env.db)) >= 12, 60_000, '12 dials inside the window')

    const windows = endedWindow(new Date())
    await env.db.query(
      `UPDATE campaigns SET config = jsonb_set(config, '{callingWindows}', $2::jsonb), updated_at = now() WHERE id = $1`,
      [CAMPAIGN, JSON.stringify(windows)],
    )
    // after the commit: every dial that starts later than this saw (or will see) the closed window
    const { rows: closedRows } = await env.db.query<{ at: Date }>('SELECT clock_timestamp() AS at')
    const closedAt = closedRows[0]!.at

    await waitDrained(env.db, { timeoutMs: 90_000 })
    await stack!.worker.idle()
    const seconds = (Date.now() - started) / 1000

    const { rows: late } = await env.db.query<{ n: string }>(
      'SELECT count(*) AS n FROM call_attempts WHERE started_at > $1',
      [closedAt],
    )
    const c = await checkConservation(env.db, pushed)
    recordResult({
      scenario: 'calling window closes while queued',
      tasks: c.tasks,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds,
      note: `window edited to end at the current hour mid-run; ${late[0]!.n} dials started after the edit (the batch already past enrich, ≤ ${BATCH})`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.remaining).toBe(0)
    expect(Number(late[0]!.n)).toBeLessThanOrEqual(BATCH)
    expect(c.outcomes.dropped ?? 0).toBeGreaterThan(0)
    expect((c.outcomes.dialed ?? 0) + (c.outcomes.dropped ?? 0)).toBe(TASKS)

    // every undialed contact waits for the next opening (pending), with the reason recorded
    const expected = new Set(
      [closedAt, new Date()].map((d) => nextWindowOpening(d, windows, 'UTC').toISOString()),
    )
    const { rows: waiting } = await env.db.query<{ id: string; status: string; next_attempt_at: Date }>(
      `SELECT id, status, next_attempt_at FROM contacts c WHERE campaign_id = $1
         AND NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.campaign_id = c.campaign_id AND a.contact_id = c.id)`,
      [CAMPAIGN],
    )
    expect(waiting).toHaveLength(c.outcomes.dropped ?? 0)
    for (const row of waiting) {
      expect(row.status).toBe('pending')
      expect(
        expected.has(row.next_attempt_at.toISOString()),
        `${row.id} next ${row.next_attempt_at.toISOString()}`,
      ).toBe(true)
    }
    for (const [key, reason] of c.reasons)
      // the zone(s) the rule used are named since issue #11
      expect(reason, key).toMatch(/^outside_calling_window: closed in .+; next opening /)
    expect(
      scanLogs(
        logs.text(),
        tasks.map((t) => t.phoneNumber),
        [token],
      ),
    ).toEqual([])
  })
})
