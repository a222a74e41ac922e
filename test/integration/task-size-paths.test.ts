import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveControl } from '../../src/control/control-api.js'
import { s3ContactImports } from '../../src/control/contacts-import-object.js'
import { DataPlane } from '../../src/control/data.js'
import { importCsvStream } from '../../src/control/import-stream.js'
import { PushRegistration } from '../../src/control/port.js'
import { toDialTasks } from '../../src/dispatch/tasks.js'
import { OperatorError } from '../../src/errors.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { MAX_DIAL_TASK_BYTES, MAX_TASK_ATTEMPTS, taskBytes } from '../../src/tasks/limits.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { insertCampaign } from './dispatch-fixtures.js'

// Issue #15: the size of a dial task is one rule (taskSizeProblem) at every place a task is made —
// `push` (CLI), the control API's push, import (CSV and control API) and the dispatcher. Each path
// is driven here with the same contact at exactly the limit (accepted) and one byte over (refused).
// The size is measured as the dispatcher may send it at its largest: this campaign's id and the
// highest attempt — before, import measured an empty campaign id at attempt 0, and push and the
// dispatcher the attempt of the moment, so a contact import accepted could be refused later.
const CAMPAIGN = 'camp-size'
let t: TestDb
let r: TestRedis
let data: DataPlane
beforeAll(async () => {
  t = await createTestDb('task_size')
  r = await createTestRedis('task-size')
  data = new DataPlane({ pool: t.pool, redis: r.redis, redisPrefix: r.prefix, defaultLimit: 1 })
  await insertCampaign(t.pool, CAMPAIGN, { status: 'active' })
})
afterAll(async () => {
  await t?.drop()
  await r?.cleanup()
})

/** `notes` making the task of (id, phone) weigh `bytes` at MAX_TASK_ATTEMPTS in CAMPAIGN. */
function notesFor(bytes: number, id: string, phone: string): string {
  const empty = taskBytes({
    campaignId: CAMPAIGN,
    contactId: id,
    phoneNumber: phone,
    metadata: { notes: '' },
    attempts: MAX_TASK_ATTEMPTS,
  })
  return 'x'.repeat(bytes - empty)
}
const sizes = [
  ['at the limit', MAX_DIAL_TASK_BYTES, true],
  ['one byte over', MAX_DIAL_TASK_BYTES + 1, false],
] as const
const caller = async () => ({ arn: 'arn:aws:iam::123456789012:user/t', account: '123456789012', userId: 't' })
const services = () => ({
  data,
  imports: s3ContactImports(data, undefined, { credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
})

describe.each(sizes)('a dial task %s', (what, bytes, fits) => {
  const tag = fits ? 'fit' : 'over'

  it('push (CLI): buildDialTask', () => {
    const phone = fits ? '+442079460101' : '+442079460102'
    const build = () =>
      buildDialTask({
        campaignId: CAMPAIGN,
        contactId: `push-${tag}`,
        phoneNumber: phone,
        metadata: [`notes=${notesFor(bytes, `push-${tag}`, phone)}`],
      })
    if (fits) expect(build().contactId).toBe(`push-${tag}`)
    else expect(build).toThrow(expect.objectContaining({ code: 'TASK_TOO_LARGE', exitCode: 2 }))
  })

  it('push through the control API: contacts.registerPushed', async () => {
    const phone = fits ? '+442079460201' : '+442079460202'
    const id = `api-${tag}`
    const task = {
      campaignId: CAMPAIGN,
      contactId: id,
      phoneNumber: phone,
      metadata: { notes: notesFor(bytes, id, phone) },
      attempts: 0,
    }
    const served = await serveControl(
      services(),
      { op: 'contacts.registerPushed', args: [[{ id: '0', task }]], proof: {} },
      caller,
    )
    expect(served.ok).toBe(true)
    const registration = PushRegistration.parse((served as { result: unknown }).result)
    if (fits) expect(registration).toEqual({ inserted: 1, existing: 0, refused: [] })
    else
      expect(registration).toEqual({
        inserted: 0,
        existing: 0,
        refused: [expect.objectContaining({ id: '0', code: 'TASK_TOO_LARGE', exitCode: 2 })],
      })
  })

  it('import: a CSV file, and rows through the control API', async () => {
    const phone = fits ? '+442079460301' : '+442079460302'
    const id = `csv-${tag}`
    const csv = `id,phone,notes\n${id},${phone},${notesFor(bytes, id, phone)}\n`
    const totals = await importCsvStream({
      campaignId: CAMPAIGN,
      source: what,
      csv: {},
      strict: false,
      open: async function* () {
        yield csv
      },
      save: (campaignId, rows) => data.importContacts(campaignId, rows),
    })
    expect({ imported: totals.imported, invalid: totals.invalidCount }).toEqual(
      fits ? { imported: 1, invalid: 0 } : { imported: 0, invalid: 1 },
    )
    const rowId = `rows-${tag}`
    const rowPhone = fits ? '+442079460303' : '+442079460304'
    const rows = [
      { line: 2, id: rowId, phoneNumber: rowPhone, metadata: { notes: notesFor(bytes, rowId, rowPhone) } },
    ]
    const imported = data.importContacts(CAMPAIGN, rows)
    if (fits) await expect(imported).resolves.toMatchObject({ imported: 1 })
    else {
      const error = await imported.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(OperatorError)
      expect(error).toMatchObject({
        code: 'CONTACT_ROWS_INVALID',
        message: expect.stringMatching(/line 2 row: the dial task would be 65537 bytes/),
      })
    }
  })

  it('the dispatcher: toDialTasks, at the first attempt', () => {
    const phone = '+442079460401'
    const id = `disp-${tag}`
    const { tasks, rejected } = toDialTasks(CAMPAIGN, [
      { id, phoneNumber: phone, metadata: { notes: notesFor(bytes, id, phone) }, attempts: 0 },
    ])
    if (fits) expect({ tasks: tasks.length, rejected }).toEqual({ tasks: 1, rejected: [] })
    else expect(rejected).toEqual([expect.objectContaining({ contactId: id, lastOutcome: 'task_too_large' })])
  })
})
