import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { saveCampaign } from '../../src/campaigns/repository.js'
import { E164_FORMAT, EnrichedDialTask } from '../../src/contracts/index.js'
import { createPool } from '../../src/db/pool.js'
import type { Db } from '../../src/db/pool.js'
import { createEnricher } from '../../src/enrich/enrich-batch.js'
import { createLogger } from '../../src/observability/logger.js'
import { createTestDb } from '../helpers/db.js'
import type { TestDb } from '../helpers/db.js'
import { seedCampaign } from '../helpers/fixtures.js'
import { Campaign, CampaignConfig } from '../../src/contracts/campaign.js'
import {
  MAX_CAMPAIGN_CONFIG_BYTES,
  MAX_DIAL_TASK_BYTES,
  taskBytes,
  WORKER_MAX_BODY_BYTES,
} from '../../src/tasks/limits.js'
import { dialCommandFor } from '../../src/dialer/worker-client.js'

// Monday 2024-01-15 10:30 in Jerusalem: inside the seed's Sunday–Thursday 09–17 window.
const IN_WINDOW = new Date('2024-01-15T08:30:00.000Z')
// Friday 2024-01-19 10:30 in Jerusalem: no window until Sunday 09:00 (07:00 UTC).
const FRIDAY = new Date('2024-01-19T08:30:00.000Z')

const task = (contactId: string, overrides: Record<string, unknown> = {}) => ({
  campaignId: 'campaign-123',
  contactId,
  phoneNumber: '+97250123' + contactId.replace(/\D/g, '').padStart(4, '0'),
  metadata: { firstName: 'John', lastName: 'Doe' },
  attempts: 0,
  ...overrides,
})
const record = (messageId: string, body: unknown) => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1705318245000',
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: '1705318245001',
  },
  messageAttributes: {},
  md5OfBody: 'x',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:dial-tasks',
  awsRegion: 'eu-west-1',
})

function counting(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = []
  const wrapped = {
    query: (...args: unknown[]) => {
      statements.push(String(args[0]).trim().split(/\s+/)[0]!.toUpperCase())
      return (db.query as (...a: unknown[]) => unknown)(...args)
    },
  }
  return { db: wrapped as unknown as Db, statements }
}

let t: TestDb
beforeAll(async () => {
  t = await createTestDb('enrich')
})
afterAll(async () => {
  await t.drop()
})
beforeEach(async () => {
  await t.pool.query('TRUNCATE campaigns, contacts, blacklist, task_outcomes CASCADE')
  await saveCampaign(t.pool, seedCampaign())
})

async function queueContacts(campaignId: string, ...ids: string[]) {
  for (const id of ids) {
    await t.pool.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts, next_attempt_at)
       VALUES ($1, $2, $3, 'queued', 0, '2024-01-01Z')`,
      [campaignId, id, task(id).phoneNumber],
    )
  }
}
const contact = async (campaignId: string, id: string) =>
  (
    await t.pool.query(
      'SELECT status, last_outcome, next_attempt_at FROM contacts WHERE campaign_id = $1 AND id = $2',
      [campaignId, id],
    )
  ).rows[0]
const outcomes = async () =>
  (
    await t.pool.query(
      'SELECT message_id, campaign_id, contact_id, attempt, stage, outcome, reason FROM task_outcomes ORDER BY id',
    )
  ).rows

function enricher(now = IN_WINDOW, db: Db = t.pool) {
  const logger = createLogger('enrich-test', { level: 'CRITICAL' })
  const spies = {
    error: vi.spyOn(logger, 'error'),
    warn: vi.spyOn(logger, 'warn'),
    info: vi.spyOn(logger, 'info'),
  }
  const metrics = { addMetric: vi.fn() }
  return { enrich: createEnricher({ db, logger, now: () => now, metrics }), spies, metrics }
}

describe('enrich batch', () => {
  it('enriches an active, in-window task into the seed shape with its messageId', async () => {
    const { enrich } = enricher()
    // parsed where it enters (the SQS body), typed from there on: no second parse of the output
    const parseOut = vi.spyOn(EnrichedDialTask, 'parse')
    const safeParseOut = vi.spyOn(EnrichedDialTask, 'safeParse')
    const out = await enrich([record('m-1', task('contact-456'))])
    expect(parseOut).not.toHaveBeenCalled()
    expect(safeParseOut).not.toHaveBeenCalled()
    parseOut.mockRestore()
    safeParseOut.mockRestore()
    expect(out).toEqual([
      {
        ...task('contact-456'),
        campaign: seedCampaign(),
        enrichedAt: '2024-01-15T08:30:00.000Z',
        messageId: 'm-1',
        // the record's ApproximateReceiveCount, for the dialer's last-receive warning
        receiveCount: 1,
      },
    ])
    expect(Object.keys(out[0]!.campaign)).toEqual(['id', 'name', 'type', 'status', 'config', 'timezone'])
    expect(EnrichedDialTask.safeParse(out[0]).success).toBe(true)
    expect(await outcomes()).toEqual([])
  })

  it('seed scenario 2: campaign not found → dropped, recorded with the reason, batch returns []', async () => {
    const { enrich, spies, metrics } = enricher()
    const out = await enrich([record('m-404', task('contact-456', { campaignId: 'test-campaign' }))])
    expect(out).toEqual([])
    expect(await outcomes()).toEqual([
      {
        message_id: 'm-404',
        campaign_id: 'test-campaign',
        contact_id: 'contact-456',
        attempt: 0,
        stage: 'enrich',
        outcome: 'dropped',
        reason: 'campaign_not_found',
      },
    ])
    expect(spies.warn).toHaveBeenCalledWith(
      'dropping dial task',
      expect.objectContaining({
        messageId: 'm-404',
        reason: 'campaign_not_found',
        phoneNumber: '+**********56',
      }),
    )
    expect(metrics.addMetric).toHaveBeenCalledWith('EnrichDropped', 'Count', 1)
  })

  it('malformed JSON → dropped and recorded, logged as an error; the rest of the batch goes on', async () => {
    const { enrich, spies } = enricher()
    const out = await enrich([record('m-bad', '{"campaignId": "campaign-123",'), record('m-ok', task('c-1'))])
    expect(out.map((e) => e.messageId)).toEqual(['m-ok'])
    const [row] = await outcomes()
    expect(row).toMatchObject({ message_id: 'm-bad', stage: 'enrich', outcome: 'dropped' })
    expect(row.reason).toMatch(/^malformed: body is not valid JSON \(/)
    expect(spies.error).toHaveBeenCalledWith(
      'dropping malformed dial task',
      expect.objectContaining({ messageId: 'm-bad', reason: row.reason }),
    )
  })

  it('missing or invalid fields → dropped with a reason naming each field', async () => {
    const { enrich, spies } = enricher()
    const { phoneNumber: _omit, ...noPhone } = task('c-2')
    const out = await enrich([
      record('m-nophone', noPhone),
      record('m-badphone', task('c-3', { phoneNumber: '0501234567' })),
      record('m-attempts', task('c-4', { attempts: -1 })),
      { body: JSON.stringify(task('c-5')) }, // not an SQS record: no messageId
    ])
    expect(out).toEqual([])
    const rows = await outcomes()
    expect(rows.map((r) => [r.message_id, r.contact_id, r.reason])).toEqual([
      ['m-nophone', 'c-2', 'malformed: phoneNumber: Invalid input: expected string, received undefined'],
      ['m-badphone', 'c-3', `malformed: phoneNumber: must be a valid E.164 phone number: ${E164_FORMAT}`],
      ['m-attempts', 'c-4', 'malformed: attempts: Too small: expected number to be >=0'],
      [null, null, 'malformed: record messageId: Invalid input: expected string, received undefined'],
    ])
    expect(spies.error).toHaveBeenCalledTimes(4)
  })

  it.each(['paused', 'completed', 'cancelled', 'draft'])(
    'campaign %s → dropped, contact released to pending, recorded',
    async (status) => {
      await saveCampaign(t.pool, seedCampaign({ status }))
      await queueContacts('campaign-123', 'k1')
      const { enrich } = enricher()
      expect(await enrich([record('m-1', task('k1'))])).toEqual([])
      expect(await contact('campaign-123', 'k1')).toMatchObject({ status: 'pending', last_outcome: null })
      expect(await outcomes()).toEqual([
        expect.objectContaining({ message_id: 'm-1', outcome: 'dropped', reason: `campaign_${status}` }),
      ])
    },
  )

  it('blacklisted number → dropped, contact failed as blacklisted, recorded', async () => {
    await queueContacts('campaign-123', 'k1')
    await t.pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'pressed 9', 'ivr')`,
      [task('k1').phoneNumber],
    )
    const { enrich } = enricher()
    expect(await enrich([record('m-1', task('k1'))])).toEqual([])
    expect(await contact('campaign-123', 'k1')).toMatchObject({
      status: 'failed',
      last_outcome: 'blacklisted',
    })
    expect(await outcomes()).toEqual([expect.objectContaining({ message_id: 'm-1', reason: 'blacklisted' })])
  })

  it('outside the calling window → dropped, contact rescheduled to the next opening (Sunday 09:00 local)', async () => {
    await queueContacts('campaign-123', 'k1')
    const { enrich } = enricher(FRIDAY)
    expect(await enrich([record('m-1', task('k1'))])).toEqual([])
    expect(await contact('campaign-123', 'k1')).toMatchObject({
      status: 'pending',
      next_attempt_at: new Date('2024-01-21T07:00:00.000Z'),
    })
    expect(await outcomes()).toEqual([
      expect.objectContaining({
        message_id: 'm-1',
        // the zone(s) the rule used are named since issue #11
        reason:
          'outside_calling_window: closed in Asia/Jerusalem (campaign); next opening 2024-01-21T07:00:00.000Z',
      }),
    ])
  })

  it('a stored campaign that no longer parses → dropped naming the field, contact released', async () => {
    await t.pool.query(`UPDATE campaigns SET config = config - 'callingWindows'`)
    await queueContacts('campaign-123', 'k1')
    const { enrich } = enricher()
    expect(await enrich([record('m-1', task('k1'))])).toEqual([])
    expect(await contact('campaign-123', 'k1')).toMatchObject({ status: 'pending' })
    expect((await outcomes())[0].reason).toMatch(/^campaign_invalid: config\.callingWindows: /)
  })

  it('a redelivered task does not move a contact the worker is already dialing', async () => {
    await queueContacts('campaign-123', 'k1')
    await t.pool.query(`UPDATE contacts SET status = 'dialing', attempts = 1`)
    await saveCampaign(t.pool, seedCampaign({ status: 'paused' }))
    const { enrich } = enricher()
    expect(await enrich([record('m-1', task('k1'))])).toEqual([])
    expect(await contact('campaign-123', 'k1')).toMatchObject({ status: 'dialing' })
    expect(await outcomes()).toHaveLength(1)
  })

  it('a batch of 10 mixed messages keeps the right ones, with their messageIds, in one read', async () => {
    await saveCampaign(t.pool, seedCampaign({ id: 'paused-1', status: 'paused' }))
    await saveCampaign(
      t.pool,
      seedCampaign({
        id: 'weekend',
        config: { ...seedCampaign().config, callingWindows: [{ dayOfWeek: [6], startHour: 9, endHour: 17 }] },
      }),
    )
    await queueContacts('campaign-123', 'k1', 'k2', 'k3', 'k4')
    await queueContacts('paused-1', 'p1')
    await queueContacts('weekend', 'w1')
    await t.pool.query(`INSERT INTO blacklist (phone_number, reason, source) VALUES ($1, 'dnc', 'import')`, [
      task('k3').phoneNumber,
    ])
    const batch = [
      record('m-01', task('k1')), // kept
      record('m-02', 'not json'), // malformed
      record('m-03', task('k2', { metadata: undefined })), // kept, without metadata
      record('m-04', task('k3')), // blacklisted
      record('m-05', task('p1', { campaignId: 'paused-1' })), // paused
      record('m-06', task('x1', { campaignId: 'gone' })), // campaign not found
      record('m-07', task('w1', { campaignId: 'weekend' })), // outside window
      record('m-08', task('k4')), // kept
      record('m-09', task('k5', { phoneNumber: '+1555' })), // invalid phone
      record('m-10', task('push-1')), // kept: a pushed test task with no contact row
    ]
    const { db, statements } = counting(t.pool)
    const { enrich } = enricher(IN_WINDOW, db)
    const out = await enrich(batch)
    expect(out.map((e) => [e.messageId, e.contactId])).toEqual([
      ['m-01', 'k1'],
      ['m-03', 'k2'],
      ['m-08', 'k4'],
      ['m-10', 'push-1'],
    ])
    expect(out[1]).not.toHaveProperty('metadata')
    // one read for campaigns + blacklist; one UPDATE per kind of move; one INSERT of outcomes
    expect(statements.filter((s) => s === 'SELECT')).toHaveLength(1)
    expect(statements.sort()).toEqual(['INSERT', 'SELECT', 'UPDATE', 'UPDATE', 'UPDATE'])
    expect((await outcomes()).map((r) => [r.message_id, r.reason.split(':')[0]])).toEqual([
      ['m-02', 'malformed'],
      ['m-04', 'blacklisted'],
      ['m-05', 'campaign_paused'],
      ['m-06', 'campaign_not_found'],
      ['m-07', 'outside_calling_window'],
      ['m-09', 'malformed'],
    ])
    expect(await contact('campaign-123', 'k3')).toMatchObject({ status: 'failed' })
    expect(await contact('paused-1', 'p1')).toMatchObject({ status: 'pending' })
    expect(await contact('weekend', 'w1')).toMatchObject({ status: 'pending' })
    expect(await contact('campaign-123', 'k1')).toMatchObject({ status: 'queued' })
  })

  it('a batch where everything is kept costs exactly one query; an all-malformed batch costs one insert', async () => {
    const { db, statements } = counting(t.pool)
    const { enrich } = enricher(IN_WINDOW, db)
    const ten = Array.from({ length: 10 }, (_, i) => record(`m-${i}`, task(`k${i}`)))
    expect(await enrich(ten)).toHaveLength(10)
    expect(statements).toEqual(['SELECT'])
    statements.length = 0
    expect(await enrich([record('a', '{'), record('b', '[]')])).toEqual([])
    expect(statements).toEqual(['INSERT'])
    statements.length = 0
    expect(await enrich([])).toEqual([])
    expect(statements).toEqual([])
  })

  it('a campaign changed in the database is seen by the very next batch (its parse is cached by row text)', async () => {
    await queueContacts('campaign-123', 'k1', 'k2', 'k3', 'k4')
    const { enrich } = enricher()
    const parse = vi.spyOn(Campaign, 'safeParse')
    try {
      expect(await enrich([record('m-1', task('k1'))])).toHaveLength(1)
      const parsesOfRow = parse.mock.calls.length
      expect(parsesOfRow).toBeLessThanOrEqual(1)
      expect(await enrich([record('m-2', task('k2'))])).toHaveLength(1)
      // the same row text: not parsed again
      expect(parse.mock.calls.length).toBe(parsesOfRow)

      // changed behind enrich's back (no updated_at, no notification): paused at once
      await t.pool.query(
        `UPDATE campaigns SET status = 'paused', name = 'paused behind enrich' WHERE id = 'campaign-123'`,
      )
      expect(await enrich([record('m-3', task('k3'))])).toEqual([])
      expect((await outcomes()).map((o) => o.reason)).toEqual(['campaign_paused'])

      // active again with another config value: that value is the one dialed
      await t.pool.query(
        `UPDATE campaigns SET status = 'active', config = jsonb_set(config, '{maxConcurrentCalls}', '7')
          WHERE id = 'campaign-123'`,
      )
      const [kept] = await enrich([record('m-4', task('k4'))])
      expect(kept?.campaign.config.maxConcurrentCalls).toBe(7)
      expect(parse.mock.calls.length).toBe(parsesOfRow + 2)
    } finally {
      parse.mockRestore()
    }
  })

  it('a PostgreSQL error throws the batch (the pipe retries it) instead of dropping messages', async () => {
    const unreachable = createPool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', max: 1 })
    try {
      const { enrich } = enricher(IN_WINDOW, unreachable)
      await expect(enrich([record('m-1', task('k1'))])).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      await expect(enrich([record('m-2', 'not json')])).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      await unreachable.end()
    }
  })

  it('an event that is not a list of records throws (a misconfigured pipe, not a bad message)', async () => {
    const { enrich } = enricher()
    await expect(enrich({ Records: [] })).rejects.toThrow(/array of SQS records, got object/)
  })
})

describe('Lambda shell functions/enrich-dial-task', () => {
  it('builds its pool from DATABASE_URL at module scope and enriches a batch', async () => {
    vi.resetModules()
    vi.stubEnv('DATABASE_URL', t.env.DATABASE_URL)
    vi.stubEnv('DATABASE_SCHEMA', t.env.DATABASE_SCHEMA)
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'CRITICAL')
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      const { handler } = await import('../../functions/enrich-dial-task.js')
      // The shell reads the real clock: open the campaign's window at every hour of every day.
      await saveCampaign(
        t.pool,
        seedCampaign({
          config: {
            ...seedCampaign().config,
            callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
          },
        }),
      )
      const out = await handler([record('m-1', task('k1')), record('m-2', '{')])
      expect(out.map((e) => e.messageId)).toEqual(['m-1'])
      expect(await outcomes()).toEqual([expect.objectContaining({ message_id: 'm-2', outcome: 'dropped' })])
      // EMF line for the dropped task
      const emf = write.mock.calls.map((c) => String(c[0])).find((line) => line.includes('"EnrichDropped"'))
      expect(emf).toBeDefined()
    } finally {
      write.mockRestore()
      vi.unstubAllEnvs()
    }
  })
})

// Issue #15 review F4: a task the dispatcher accepts must make a dial command the worker accepts.
describe('dial command size', () => {
  /** a seed campaign whose config weighs `bytes` as JSON (its audioFileUrl padded) */
  const campaignOfSize = (bytes: number) => {
    const base = seedCampaign()
    const pad = bytes - taskBytes(base.config)
    const audioFileUrl = base.config.audioFileUrl.replace('audio', 'a'.repeat(pad + 5))
    return { ...base, config: { ...base.config, audioFileUrl } }
  }
  /** a task whose JSON weighs `bytes` (its metadata padded) */
  const taskOfSize = (id: string, bytes: number) => {
    const t = task(id, { metadata: { note: '' } })
    return task(id, { metadata: { note: 'x'.repeat(bytes - taskBytes(t)) } })
  }

  it('a campaign config over its share is refused where it enters, naming the field and the limit', () => {
    const config = {
      ...seedCampaign().config,
      audioFileUrl: 'https://media.example.test/' + 'a'.repeat(200 * 1024) + '.mp3',
    }
    const parsed = CampaignConfig.safeParse(config)
    expect(parsed.success).toBe(false)
    const message = parsed.error!.issues[0]!.message
    expect(message).toContain('config.audioFileUrl is')
    expect(message).toContain(`the limit is ${MAX_CAMPAIGN_CONFIG_BYTES} bytes`)
    // at the limit it is accepted
    expect(CampaignConfig.safeParse(campaignOfSize(MAX_CAMPAIGN_CONFIG_BYTES).config).success).toBe(true)
    expect(CampaignConfig.safeParse(campaignOfSize(MAX_CAMPAIGN_CONFIG_BYTES + 1).config).success).toBe(false)
  })

  it('a config at its limit and a task at its limit make a command the worker accepts, and it is sent', async () => {
    await saveCampaign(t.pool, campaignOfSize(MAX_CAMPAIGN_CONFIG_BYTES))
    await queueContacts('campaign-123', 'big-1')
    const body = taskOfSize('big-1', MAX_DIAL_TASK_BYTES)
    expect(taskBytes(body)).toBe(MAX_DIAL_TASK_BYTES)
    const out = await enricher().enrich([record('m-big', body)])
    expect(out).toHaveLength(1)
    const command = { ...dialCommandFor(out[0]!), notBefore: Date.now() + 0.123, cpsLimit: 1000 }
    expect(taskBytes(command)).toBeLessThanOrEqual(WORKER_MAX_BODY_BYTES)
  })

  it('a task whose command would exceed the worker limit is dropped as task_too_large, not sent, and its contact failed', async () => {
    // a campaign stored within its share and a task bigger than push allows (sent to the queue directly)
    await saveCampaign(t.pool, campaignOfSize(150 * 1024))
    await queueContacts('campaign-123', 'huge-1', 'small-2')
    const { enrich, spies } = enricher()
    const out = await enrich([
      record('m-huge', taskOfSize('huge-1', 120 * 1024)),
      record('m-small', task('small-2')),
    ])
    expect(out.map((o) => o.contactId)).toEqual(['small-2'])
    const rows = await outcomes()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      message_id: 'm-huge',
      contact_id: 'huge-1',
      stage: 'enrich',
      outcome: 'dropped',
    })
    expect(rows[0]!.reason).toMatch(
      /^task_too_large: the dial command would be \d+ bytes; the worker accepts 262144/,
    )
    expect(await contact('campaign-123', 'huge-1')).toMatchObject({
      status: 'failed',
      last_outcome: 'task_too_large',
    })
    expect(await contact('campaign-123', 'small-2')).toMatchObject({ status: 'queued' })
    expect(spies.error).toHaveBeenCalledWith(
      'dropping dial task',
      expect.objectContaining({ contactId: 'huge-1' }),
    )
  })
})
