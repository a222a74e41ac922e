import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { addDemoContacts, DEMO_CAMPAIGN_ID } from '../../src/local-stack/demo.js'
import { startLocalStack, type LocalStack } from '../../local/stack.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { registerPushedContacts } from '../../src/control/pushed-contacts.js'

/**
 * A newcomer with only Node: no PostgreSQL or Redis reachable, so the stack runs on an embedded
 * PostgreSQL (PGlite over the wire protocol) and a private redis-server — and the whole pipeline,
 * dispatcher included, still works on them.
 */
describe('local stack on embedded services', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialctl-embedded-'))
  const saved = { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL }
  let stack: LocalStack

  beforeAll(async () => {
    delete process.env.DATABASE_URL
    delete process.env.REDIS_URL
    stack = await startLocalStack({
      dataDir,
      fallbackFrom: { databaseUrl: 'postgres://postgres@127.0.0.1:1/none', redisUrl: 'redis://127.0.0.1:1' },
      workerPort: 0,
      announce: false,
      maxCps: 50,
      batchWindowSeconds: 1,
      dispatchIntervalMs: 500,
      sim: { speed: 0, seed: 3 },
      logLevel: 'ERROR',
    })
  }, 120_000)

  afterAll(async () => {
    await stack?.stop()
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('dials pushed tasks and dispatched contacts', async () => {
    expect(stack.services.map((s) => s.kind)).toEqual(['embedded', 'embedded'])
    const pushed = Array.from({ length: 10 }, (_, i) =>
      buildDialTask({
        campaignId: DEMO_CAMPAIGN_ID,
        contactId: `pushed-${i}`,
        phoneNumber: testNumber(100 + i),
      }),
    )
    // as `dialctl push` does: the dial gate dials only contacts that exist (issue #11)
    const registered = await registerPushedContacts(
      stack.pool,
      pushed.map((task, i) => ({ id: String(i), task })),
    )
    expect(registered.refused).toEqual([])
    const sent = await stack.queue.sendBatch(
      pushed.map((t, i) => ({ id: String(i), body: JSON.stringify(t) })),
    )
    expect(sent.failed).toEqual([])
    expect(await addDemoContacts(stack.pool, 10)).toBe(10)

    const dialed = await vi.waitUntil(
      async () => {
        const { rows } = await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM call_attempts')
        const n = Number(rows[0]!.n)
        return n >= 20 && n
      },
      { timeout: 60_000, interval: 250 },
    )
    expect(dialed).toBe(20)
    await stack.worker.idle()
    const { rows } = await stack.pool.query<{ contact_id: string }>(
      `SELECT contact_id FROM call_attempts GROUP BY contact_id HAVING count(*) > 1`,
    )
    expect(rows).toEqual([])
  }, 90_000)
})
