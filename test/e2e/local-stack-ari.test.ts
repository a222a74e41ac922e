import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startLocalStack, type LocalStack } from '../../local/stack.js'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { dropKeys } from '../helpers/redis.js'
import { DEMO_CAMPAIGN_ID } from '../../src/local-stack/demo.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { startFakeAri, type FakeAriServer } from '../helpers/fake-ari-server.js'

/**
 * `dialctl dev --driver ari`: the local stack's worker calls through Asterisk (here the fake ARI
 * server) configured by the ARI_* variables, with the same crash recovery as worker/main.ts.
 */
describe('local stack with --driver ari', () => {
  const schema = `e2e_ari_${randomBytes(4).toString('hex')}`
  const prefix = `test:e2e-ari:${randomBytes(4).toString('hex')}:`
  let fake: FakeAriServer
  let stack: LocalStack | undefined
  const saved = { ...process.env }

  beforeAll(async () => {
    fake = await startFakeAri({ playbackMs: 20 })
    fake.setDefault({ kind: 'answer', afterMs: 10, digits: [{ digit: '1', afterMs: 100 }] })
  })
  afterEach(async () => {
    await stack?.stop()
    stack = undefined
    process.env = { ...saved }
  })
  afterAll(async () => {
    await fake.stop()
    const admin = createPool({ max: 1 })
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
    await admin.end()
    await dropKeys(prefix)
  })

  const start = () =>
    startLocalStack({
      schema,
      redisPrefix: prefix,
      workerPort: 0,
      batchWindowSeconds: 1,
      dispatcher: false,
      announce: false,
      driver: 'ari',
      logLevel: 'SILENT',
    })

  function ariEnv(password: string): void {
    Object.assign(process.env, {
      ARI_URL: fake.url,
      ARI_USER: fake.username,
      ARI_PASSWORD: password,
      ARI_ENDPOINT_TEMPLATE: 'Local/{digits}@dialctl-test',
    })
    delete process.env.ARI_APP
  }

  it('places the pipeline call through ARI on the app dialctl-<stack worker id> and records the outcome', async () => {
    ariEnv(fake.password)
    stack = await start()
    expect(fake.connectedApps()).toEqual([expect.stringMatching(/^dialctl-local-stack-/)])
    // the dial gate dials only a contact it can claim
    await stack.pool.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status) VALUES ($1, 'ari-1', $2, 'queued')`,
      [DEMO_CAMPAIGN_ID, testNumber(1)],
    )
    const task = buildDialTask({
      campaignId: DEMO_CAMPAIGN_ID,
      contactId: 'ari-1',
      phoneNumber: testNumber(1),
    })
    expect((await stack.queue.sendBatch([{ id: '0', body: JSON.stringify(task) }])).failed).toEqual([])
    const pool = stack.pool
    await vi.waitFor(
      async () => {
        const { rows } = await pool.query(
          `SELECT status, digit FROM call_attempts WHERE contact_id = 'ari-1'`,
        )
        expect(rows).toEqual([{ status: 'answered', digit: '1' }])
      },
      { timeout: 20_000, interval: 100 },
    )
    const originate = fake.requests.find(
      (r) => r.method === 'POST' && /^\/ari\/channels\/[^/]+$/.test(r.path),
    )
    expect(originate?.query).toMatchObject({
      app: expect.stringMatching(/^dialctl-local-stack-/),
      endpoint: expect.stringMatching(/^Local\/\d+@dialctl-test$/),
    })
  })

  it('refused credentials stop the start with what to fix', async () => {
    ariEnv('wrong-password')
    await expect(start()).rejects.toThrow(/ARI_USER \/ ARI_PASSWORD/)
  })

  it('missing ARI settings name the variables', async () => {
    ariEnv(fake.password)
    delete process.env.ARI_ENDPOINT_TEMPLATE
    await expect(start()).rejects.toThrow(/ARI_ENDPOINT_TEMPLATE/)
  })
})
