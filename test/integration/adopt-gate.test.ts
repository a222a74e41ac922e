import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { zonesOfNumber } from '../../src/campaigns/callee-zones.js'
import { callIdFor, type DialCommand } from '../../src/contracts/index.js'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker } from '../../worker/app.js'
import { SimDriver } from '../../worker/drivers/sim.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { flow } from './worker-fixtures.js'

/**
 * A claim whose COMMIT reached PostgreSQL but whose reply was lost leaves a 'dialing' row the
 * worker may adopt on redelivery — possibly a visibility timeout later. Adoption goes through the
 * dial gate again (found by an adversarial review: it used to place the call unconditionally).
 */
const TOKEN = 'adopt-token-0123456789abcdef'
const ALL_DAY = [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }]
let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('adopt')
})
afterAll(async () => {
  await tdb.drop()
})

/** A pool whose first COMMIT commits in PostgreSQL while the client sees the connection drop. */
function losingFirstCommitReply(pool: pg.Pool): pg.Pool {
  let lose = true
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === 'connect')
        return async () => {
          const client = await target.connect()
          const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>
          Object.assign(client, {
            query: async (...args: unknown[]) => {
              const result = await query(...args)
              if (args[0] === 'COMMIT' && lose) {
                lose = false
                throw new Error('Connection terminated unexpectedly')
              }
              return result
            },
          })
          return client
        }
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

async function scenario(id: string, phone: string, between: (phone: string) => Promise<void>) {
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, $1, 'active', $2, 'UTC')`,
    [
      id,
      JSON.stringify({
        audioFileUrl: 'https://example.test/a.wav',
        ivrFlow: flow,
        callingWindows: ALL_DAY,
        maxConcurrentCalls: 10,
        maxAttemptsPerContact: 3,
      }),
    ],
  )
  await tdb.pool.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts, number_timezones)
     VALUES ($1, 'c1', $2, 'queued', 0, $3)`,
    [id, phone, zonesOfNumber(phone)],
  )
  const originated: string[] = []
  const driver = new SimDriver({ speed: 0, answerRate: 1, busyRate: 0, seed: 1 })
  const originate = driver.originate.bind(driver)
  driver.originate = (req) => {
    originated.push(req.callId)
    return originate(req)
  }
  const worker = createWorker({
    db: losingFirstCommitReply(tdb.pool),
    driver,
    token: TOKEN,
    workerId: `w-${id}`,
    caps: { maxActiveCalls: 10 },
    logger: createLogger('adopt-test', { level: 'SILENT' }),
  })
  const url = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}`
  const cmd: DialCommand = {
    callId: callIdFor({ campaignId: id, contactId: 'c1', attempts: 0 }),
    campaignId: id,
    contactId: 'c1',
    phoneNumber: phone,
    audioFileUrl: 'https://example.test/a.wav',
    ivrFlow: flow as DialCommand['ivrFlow'],
    metadata: {},
    attempt: 0,
  }
  const post = () =>
    fetch(`${url}/dial`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(cmd),
    })
  const first = await post()
  await between(phone)
  const second = await post()
  await worker.idle()
  await worker.close()
  const call = await tdb.pool.query(`SELECT status, reason FROM call_attempts WHERE campaign_id = $1`, [id])
  const contact = await tdb.pool.query(`SELECT status, last_outcome FROM contacts WHERE campaign_id = $1`, [
    id,
  ])
  return {
    statuses: [first.status, second.status],
    originated: originated.length,
    call: call.rows[0],
    contact: contact.rows[0],
  }
}

describe('adopting an orphan claim goes through the dial gate again', () => {
  it('nothing changed in between: the row is adopted and the call placed once', async () => {
    const r = await scenario('adopt-ok', '+12125550111', async () => {})
    expect(r.statuses).toEqual([503, 202])
    expect(r.originated).toBe(1)
  })

  it('blacklisted in between: refused (409), never dialed, row failed, contact failed', async () => {
    const r = await scenario('adopt-bl', '+12125550112', async (phone) => {
      await tdb.pool.query(
        `INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'opt-out', 'ivr')`,
        [phone],
      )
    })
    expect(r.statuses).toEqual([503, 409])
    expect(r.originated).toBe(0)
    expect(r.call).toEqual({ status: 'failed', reason: 'gate' })
    expect(r.contact).toEqual({ status: 'failed', last_outcome: 'blacklisted' })
  })

  it('paused in between: refused, never dialed, contact back to pending', async () => {
    const r = await scenario('adopt-pause', '+12125550113', async () => {
      await tdb.pool.query(`UPDATE campaigns SET status = 'paused' WHERE id = 'adopt-pause'`)
    })
    expect(r.statuses).toEqual([503, 409])
    expect(r.originated).toBe(0)
    expect(r.call).toEqual({ status: 'failed', reason: 'gate' })
    expect(r.contact?.status).toBe('pending')
  })
})
