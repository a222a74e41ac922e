import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { insertCampaign, insertContacts } from './dispatch-fixtures.js'

/**
 * The Lambda shell end to end against the real PostgreSQL, with SQS mocked (AWS is unreachable):
 * the exact SendMessageBatch inputs, a per-entry failure released, and the state machine's output.
 */
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dial-tasks'
const sqs = mockClient(SQSClient)
let t: TestDb
const saved = { ...process.env }

beforeAll(async () => {
  t = await createTestDb('displambda')
  Object.assign(process.env, t.env, {
    QUEUE_URL,
    MAX_CPS: '2',
    DISPATCH_HORIZON_SECONDS: '6',
    AWS_REGION: 'eu-west-1',
  })
  delete process.env.REDIS_URL
})
afterAll(async () => {
  process.env = saved
  sqs.restore()
  await t?.drop()
})

describe('functions/dispatcher.handler', () => {
  it('sends the paced DialTasks in SendMessageBatch calls of 10 and releases the refused entry', async () => {
    await insertCampaign(t.pool, 'lam')
    await insertContacts(t.pool, 'lam', 20, (i) => ({
      nextAttemptAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
    }))
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.filter((e) => e.Id !== 't3').map((e) => ({
        Id: e.Id,
        MessageId: `id-${e.Id}`,
      })),
      Failed: input.Entries.filter((e) => e.Id === 't3').map((e) => ({
        Id: e.Id,
        Code: 'InternalError',
        SenderFault: false,
      })),
    }))
    const { handler } = await import('../../functions/dispatcher.js')
    const out = await handler({ campaignId: 'lam' })

    // MAX_CPS 2 × horizon 6 s = 12 contacts this round: one call of 10, one of 2, oldest due first.
    const calls = sqs.commandCalls(SendMessageBatchCommand)
    expect(calls.map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: QUEUE_URL,
        Entries: Array.from({ length: 10 }, (_, i) => ({
          Id: `t${i}`,
          MessageBody: JSON.stringify({
            campaignId: 'lam',
            contactId: `ct-${i}`,
            phoneNumber: '+97250' + String(i).padStart(7, '0'),
            metadata: { n: i },
            attempts: 0,
          }),
        })),
      },
      {
        QueueUrl: QUEUE_URL,
        Entries: [10, 11].map((n, i) => ({
          Id: `t${i}`,
          MessageBody: JSON.stringify({
            campaignId: 'lam',
            contactId: `ct-${n}`,
            phoneNumber: '+97250' + String(n).padStart(7, '0'),
            metadata: { n },
            attempts: 0,
          }),
        })),
      },
    ])
    expect(out).toMatchObject({
      campaignId: 'lam',
      campaignStatus: 'active',
      queued: 11,
      released: 1,
      eligibleRemaining: 20,
      hasMoreEligible: true,
    })
    const { rows } = await t.pool.query(
      `SELECT status FROM contacts WHERE campaign_id = 'lam' AND id = 'ct-3'`,
    )
    expect(rows[0].status).toBe('pending')
  })
})
