import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveControl } from '../../src/control/control-api.js'
import { s3ContactImports } from '../../src/control/contacts-import-object.js'
import { DataPlane } from '../../src/control/data.js'
import { OperatorError } from '../../src/errors.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { insertCampaign } from './dispatch-fixtures.js'

// Issue #15: the control API's contacts.import (the local and the AWS control function) checks rows
// with the CSV reader's rule (src/contracts/contact-row.ts): a caller other than the CLI cannot
// store an id the dispatcher would refuse, or two lines for one contact.
let t: TestDb
let r: TestRedis
let data: DataPlane
beforeAll(async () => {
  t = await createTestDb('import_api')
  r = await createTestRedis('import-api')
  data = new DataPlane({ pool: t.pool, redis: r.redis, redisPrefix: r.prefix, defaultLimit: 1 })
  await insertCampaign(t.pool, 'camp', { status: 'active' })
})
afterAll(async () => {
  await t?.drop()
  await r?.cleanup()
})

const row = (line: number, id: string, phoneNumber: string) => ({ line, id, phoneNumber, metadata: {} })
const count = async () =>
  Number(
    (await t.pool.query<{ n: string }>("SELECT count(*) AS n FROM contacts WHERE campaign_id = 'camp'"))
      .rows[0]!.n,
  )

describe('contacts.import through the control API', () => {
  it('refuses a batch with an over-long id or a duplicate, naming lines and fields; nothing is written', async () => {
    const rows = [
      row(2, 'k1', '+442079460001'),
      row(3, 'k'.repeat(201), '+442079460002'),
      row(4, 'k4', '+442079460001'),
    ]
    const error = await data.importContacts('camp', rows).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperatorError)
    expect(error).toMatchObject({
      code: 'CONTACT_ROWS_INVALID',
      exitCode: 2,
      message: expect.stringMatching(
        /^2 contact row\(s\) refused; nothing was imported \(line 3 id: is 201 characters.*; line 4 phoneNumber: duplicates line 2 \(same number\)/,
      ),
    })
    expect(await count()).toBe(0)
    const served = await serveControl(
      {
        data,
        imports: s3ContactImports(data, undefined, {
          credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        }),
      },
      { op: 'contacts.import', args: ['camp', rows], proof: {} },
      async () => ({ arn: 'arn:aws:iam::123456789012:user/test', account: '123456789012', userId: 'test' }),
    )
    expect(served).toMatchObject({ ok: false, error: { code: 'CONTACT_ROWS_INVALID', exitCode: 2 } })
    expect(await count()).toBe(0)
  })

  it('imports a clean batch', async () => {
    await expect(
      data.importContacts('camp', [row(2, 'k1', '+442079460001'), row(3, 'k2', '+442079460002')]),
    ).resolves.toMatchObject({ imported: 2, duplicates: 0 })
    expect(await count()).toBe(2)
  })
})
