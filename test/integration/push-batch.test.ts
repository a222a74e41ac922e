import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { serveControl } from '../../src/control/control-api.js'
import { s3ContactImports } from '../../src/control/contacts-import-object.js'
import { DataPlane } from '../../src/control/data.js'
import { LocalControlPlane } from '../../src/control/local.js'
import { PushRegistration, type PushEntry } from '../../src/control/port.js'
import type { DialTask } from '../../src/contracts/index.js'
import { ensureLocalQueues, type PgQueue } from '../../src/queue/pg-queue.js'
import { MAX_DIAL_TASK_BYTES } from '../../src/tasks/limits.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { insertCampaign } from './dispatch-fixtures.js'

// Issue #15: a push batch (plane.pushTasks — `dialctl push`, load-test — and the control API's
// contacts.registerPushed) with repeats inside it or conflicts with the campaign's contacts: every
// entry is sent or refused with a reason, never absorbed by ON CONFLICT DO NOTHING and refused by
// the gate after "Sent", never sent twice; the figures add up.
let t: TestDb
let r: TestRedis
let data: DataPlane
let plane: LocalControlPlane
let queue: PgQueue
beforeAll(async () => {
  t = await createTestDb('push_batch')
  r = await createTestRedis('push-batch')
  data = new DataPlane({ pool: t.pool, redis: r.redis, redisPrefix: r.prefix, defaultLimit: 1 })
  plane = new LocalControlPlane(data)
  ;({ queue } = await ensureLocalQueues(t.pool))
  await insertCampaign(t.pool, 'camp', { status: 'active' })
  await insertCampaign(t.pool, 'camp-paused', { status: 'paused' })
})
afterAll(async () => {
  await t?.drop()
  await r?.cleanup()
})
beforeEach(async () => {
  await queue.purge()
  await t.pool.query('DELETE FROM contacts')
})

const N = (i: number) => `+4420794605${String(i).padStart(2, '0')}`
const task = (contactId: string, phoneNumber: string, extra: Partial<DialTask> = {}): DialTask => ({
  campaignId: 'camp',
  contactId,
  phoneNumber,
  attempts: 0,
  ...extra,
})
const batch = (...tasks: DialTask[]): PushEntry[] => tasks.map((task, i) => ({ id: String(i), task }))
const contacts = async () =>
  (
    await t.pool.query<{ id: string; phone_number: string }>(
      "SELECT id, phone_number FROM contacts WHERE campaign_id = 'camp' ORDER BY id",
    )
  ).rows.map((c) => `${c.id} ${c.phone_number}`)
const queued = async () =>
  (await queue.peek(100)).map((m) => (JSON.parse(m.body) as DialTask).contactId).sort()

describe('a push batch with repeats and conflicts', () => {
  it('sends each contact once and refuses every repeat and conflict with its reason; the figures add up', async () => {
    await t.pool.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts)
       VALUES ('camp', 'held', $1, 'queued', 0), ('camp', 'held2', $2, 'queued', 0),
              ('camp', 'held3', $3, 'queued', 0), ('camp', 'held4', $4, 'queued', 0)`,
      [N(90), N(91), N(92), N(93)],
    )
    // in the batch, the first entry of a contact or a number goes ahead (as in import)
    const entries = batch(
      task('k1', N(1)), // 0: sent
      task('k2', N(1)), // 1: the same number under another id
      task('k1', N(2)), // 2: the same id with another number
      task('k3', N(3)), // 3: sent
      task('k3', N(3)), // 4: the same task again: it would be dialed twice
      task('held', N(90)), // 5: `held` itself, same number and attempt: a re-push, sent
      task('k4', N(90)), // 6: a repeat of 5's number under another id
      task('held', N(90), { attempts: 2 }), // 7: a repeat of 5 at another attempt
      task('k5', N(5), { metadata: { notes: 'x'.repeat(MAX_DIAL_TASK_BYTES) } }), // 8: too large
      task('k6', N(6), { campaignId: 'no-such-campaign' }), // 9: no campaign
      task('k7', N(91)), // 10: the number is contact `held2`'s
      task('held3', N(92), { attempts: 1 }), // 11: `held3` is at attempt 0
      task('held4', N(94)), // 12: `held4` has another number
      task('k8', N(8), { campaignId: 'camp-paused' }), // 13: the campaign accepts no tasks
    )
    const registration = await data.registerPushedContacts(entries)
    expect(registration.inserted + registration.existing + registration.refused.length).toBe(entries.length)
    expect(registration, JSON.stringify(registration)).toMatchObject({ inserted: 2, existing: 1 })
    expect(Object.fromEntries(registration.refused.map((f) => [f.id, f.code]))).toEqual({
      '1': 'PUSH_CONTACT_CONFLICT',
      '2': 'PUSH_CONTACT_CONFLICT',
      '4': 'PUSH_DUPLICATE_TASK',
      '6': 'PUSH_CONTACT_CONFLICT',
      '7': 'PUSH_CONTACT_CONFLICT',
      '8': 'TASK_TOO_LARGE',
      '9': 'CAMPAIGN_NOT_FOUND',
      '10': 'PUSH_CONTACT_CONFLICT',
      '11': 'PUSH_CONTACT_CONFLICT',
      '12': 'PUSH_CONTACT_CONFLICT',
      '13': 'CAMPAIGN_NOT_ACTIVE',
    })
    const byId = new Map(registration.refused.map((f) => [f.id, f]))
    expect(byId.get('1')!.message).toMatch(
      /entry 1 repeats entry 0 .*the number \+\*{10}01 is given for contacts k1 and k2/,
    )
    expect(byId.get('2')!.message).toMatch(/contact k1 is given with two numbers/)
    expect(byId.get('7')!.message).toMatch(
      /entry 7 repeats entry 5 .*contact held is given at attempts 0 and 2/,
    )
    expect(byId.get('10')).toMatchObject({
      message: expect.stringMatching(/the number \+\*{10}91 is already contact held2 of campaign camp/),
      suggestion: 'Push that number as --contact held2, or another number.',
      exitCode: 2,
    })
    expect(byId.get('11')).toMatchObject({
      message: expect.stringMatching(
        /contact held3 of campaign camp exists at attempt 0 \(the task says 1\)/,
      ),
      suggestion: 'Push again with --attempts 0 to retry that contact.',
    })
    expect(byId.get('12')!.message).toMatch(
      /contact held4 of campaign camp exists with another number \(\+\*{10}93\)/,
    )
    expect(byId.get('9')!.exitCode).toBe(1)
    expect(byId.get('13')).toMatchObject({
      message: 'Campaign camp-paused is paused and accepts no dial tasks; nothing was sent.',
      suggestion: 'Resume it first: dialctl campaign resume camp-paused',
      exitCode: 1,
    })
    // no message carries a number in full
    expect(JSON.stringify(registration)).not.toMatch(/\+44\d{6}/)

    // the plane's push (what `dialctl push` and load-test call) sends exactly the others, once
    await t.pool.query("DELETE FROM contacts WHERE id NOT LIKE 'held%'")
    const result = await plane.pushTasks(entries)
    expect(result.sent.map((s) => s.id).sort()).toEqual(['0', '3', '5'])
    expect(result.failed.map((f) => f.id).sort()).toEqual([
      '1',
      '10',
      '11',
      '12',
      '13',
      '2',
      '4',
      '6',
      '7',
      '8',
      '9',
    ])
    expect(result.sent.length + result.failed.length).toBe(entries.length)
    expect(await queued()).toEqual(['held', 'k1', 'k3'])
    expect(await contacts()).toEqual([
      `held ${N(90)}`,
      `held2 ${N(91)}`,
      `held3 ${N(92)}`,
      `held4 ${N(93)}`,
      `k1 ${N(1)}`,
      `k3 ${N(3)}`,
    ])
  })

  it('a draft: the advice is the command `campaign start` would accept — import first when it has no contacts', async () => {
    await insertCampaign(t.pool, 'camp-draft', { status: 'draft' })
    await insertCampaign(t.pool, 'camp-draft-auto', { status: 'draft', config: { autoComplete: true } })
    await t.pool.query("UPDATE campaigns SET is_test = true WHERE id = 'camp-draft-auto'")
    const push = async (campaignId: string) => {
      const { refused } = await data.registerPushedContacts(batch(task('d1', N(50), { campaignId })))
      expect(refused).toHaveLength(1)
      return refused[0]!
    }
    // no contacts: `campaign start` refuses it (NO_CONTACTS), so start is not the advice
    const empty = await push('camp-draft')
    expect(empty).toMatchObject({
      code: 'CAMPAIGN_NOT_ACTIVE',
      message: 'Campaign camp-draft is draft and accepts no dial tasks; nothing was sent.',
      exitCode: 1,
    })
    expect(empty.suggestion).toBe(
      'It has no contacts, and `campaign start` refuses a campaign without them: import them first (dialctl contacts import --campaign camp-draft FILE; FILE: a CSV with a phone_number column, E.164), then start it (dialctl campaign start camp-draft).',
    )
    // a test campaign with autoComplete: true is refused empty too
    expect((await push('camp-draft-auto')).suggestion).toMatch(
      /import them first .*--campaign camp-draft-auto/,
    )
    // with a contact, start is what it needs
    await t.pool.query(
      "INSERT INTO contacts (campaign_id, id, phone_number, status, attempts) VALUES ('camp-draft', 'x', $1, 'pending', 0)",
      [N(51)],
    )
    expect((await push('camp-draft')).suggestion).toBe('Start it first: dialctl campaign start camp-draft')
    expect(await contacts()).toEqual([])
  })

  it('two pushes of one number under two ids at once: one is sent, the other refused (not absorbed)', async () => {
    const [a, b] = await Promise.all([
      plane.pushTasks(batch(task('race-a', N(40)))),
      plane.pushTasks(batch(task('race-b', N(40)))),
    ])
    const sent = [...a.sent, ...b.sent]
    const failed = [...a.failed, ...b.failed]
    expect(sent).toHaveLength(1)
    expect(failed).toEqual([expect.objectContaining({ code: 'PUSH_CONTACT_CONFLICT', exitCode: 2 })])
    expect(await queue.depth()).toMatchObject({ visible: 1 })
    expect(await contacts()).toHaveLength(1)
  })

  it('the control API (contacts.registerPushed) returns the same figures', async () => {
    const entries = batch(task('c1', N(10)), task('c2', N(10)), task('c1', N(10)))
    const invoke = (payload: unknown) =>
      serveControl(
        {
          data,
          imports: s3ContactImports(data, undefined, {
            credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
          }),
        },
        payload,
        async () => ({ arn: 'arn:aws:iam::123456789012:user/t', account: '123456789012', userId: 't' }),
      )
    const served = await invoke({ op: 'contacts.registerPushed', args: [entries], proof: {} })
    expect(served.ok).toBe(true)
    const registration = PushRegistration.parse((served as { result: unknown }).result)
    expect(registration).toMatchObject({
      inserted: 1,
      existing: 0,
      refused: [
        { id: '1', code: 'PUSH_CONTACT_CONFLICT' },
        { id: '2', code: 'PUSH_DUPLICATE_TASK' },
      ],
    })
    // entry ids echo the caller's: two alike are a usage error, nothing written
    const twice = await invoke({
      op: 'contacts.registerPushed',
      args: [
        [
          { id: 'x', task: task('d1', N(11)) },
          { id: 'x', task: task('d2', N(12)) },
        ],
      ],
      proof: {},
    })
    expect(twice).toMatchObject({ ok: false, error: { code: 'PUSH_BATCH_IDS', exitCode: 2 } })
    expect(await contacts()).toEqual([`c1 ${N(10)}`])
  })

  it('an attempt at or past maxAttemptsPerContact (3) is refused with the limit, on the plane and the control API; nothing written or sent (#16)', async () => {
    const entries = batch(
      task('a2', N(20), { attempts: 2 }), // the last attempt allowed: sent
      task('a3', N(21), { attempts: 3 }),
      task('a5', N(22), { attempts: 5 }),
    )
    const result = await plane.pushTasks(entries)
    expect(result.sent.map((s) => s.id)).toEqual(['0'])
    expect(result.failed).toEqual([
      expect.objectContaining({ id: '1', code: 'PUSH_ATTEMPTS_EXHAUSTED', exitCode: 2 }),
      expect.objectContaining({ id: '2', code: 'PUSH_ATTEMPTS_EXHAUSTED', exitCode: 2 }),
    ])
    expect(result.failed[1]?.message).toMatch(
      /--attempts 5 is not below campaign camp's maxAttemptsPerContact 3/,
    )
    expect(result.failed[1]?.suggestion).toMatch(/--attempts between 0 and 2/)
    expect(await queued()).toEqual(['a2'])
    expect(await contacts()).toEqual([`a2 ${N(20)}`])

    const served = await serveControl(
      {
        data,
        imports: s3ContactImports(data, undefined, {
          credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        }),
      },
      { op: 'contacts.registerPushed', args: [batch(task('b4', N(23), { attempts: 4 }))], proof: {} },
      async () => ({ arn: 'arn:aws:iam::123456789012:user/t', account: '123456789012', userId: 't' }),
    )
    expect(PushRegistration.parse((served as { result: unknown }).result)).toMatchObject({
      inserted: 0,
      existing: 0,
      refused: [{ id: '0', code: 'PUSH_ATTEMPTS_EXHAUSTED', exitCode: 2 }],
    })
    expect(await contacts()).toEqual([`a2 ${N(20)}`])
  })
})
