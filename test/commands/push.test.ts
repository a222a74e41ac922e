import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureLocalQueues, PgQueue } from '../../src/queue/pg-queue.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { dialctl, jsonOf } from './helpers.js'

let db: TestDb
const saved = { ...process.env }
let queue: PgQueue

beforeAll(async () => {
  db = await createTestDb('cmdpush')
  ;({ queue } = await ensureLocalQueues(db.pool))
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_STAGE: 'local',
    NO_COLOR: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
})

afterAll(async () => {
  process.env = saved
  await db.drop()
})

describe('dialctl push (local stack)', () => {
  it('sends one seed-shaped task to the dial-tasks queue and prints its id with the phone masked', async () => {
    const run = await dialctl([
      'push',
      '--campaign',
      'campaign-123',
      '--phone',
      '+972501234567',
      '--contact',
      'contact-456',
      '--metadata',
      'firstName=John',
      '--metadata',
      'lastName=Doe',
    ])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(
      /^Sent dial task [0-9a-f-]{36} \(campaign campaign-123, contact contact-456, \+97250\*\*\*\*567\) to stage local\./,
    )
    expect(run.stdout).not.toContain('+972501234567')
    const [message] = await queue.peek(10)
    expect(JSON.parse(message!.body)).toEqual({
      campaignId: 'campaign-123',
      contactId: 'contact-456',
      phoneNumber: '+972501234567',
      metadata: { firstName: 'John', lastName: 'Doe' },
      attempts: 0,
    })
  })

  it('--json gives the message id', async () => {
    const run = await dialctl(['push', '--campaign', 'demo', '--phone', '+12125550100', '--json'])
    expect(run.exitCode).toBe(0)
    const out = jsonOf(run) as { messageId: string; contactId: string; phoneNumber: string; stage: string }
    expect(out).toMatchObject({ stage: 'local', phoneNumber: '+12125***100' })
    expect(out.contactId).toMatch(/^push-/)
    const ids = (await queue.peek(10)).map((m) => m.messageId)
    expect(ids).toContain(out.messageId)
  })

  it('refuses a number that is not E.164, naming the field, with the usage exit code', async () => {
    const before = (await queue.depth()).visible
    const run = await dialctl(['push', '--campaign', 'demo', '--phone', '050-1234567'])
    expect(run.exitCode).toBe(2)
    expect(run.stderr + (run.error?.message ?? '')).toMatch(/phoneNumber: must be a valid E\.164/)
    expect((await queue.depth()).visible).toBe(before)
  })
})
