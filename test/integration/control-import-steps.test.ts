import type { Context } from 'aws-lambda'
import { STSClient } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseContactsCsv } from '../../src/control/contacts-import.js'
import { presignCallerProof } from '../../src/control/caller-presign.js'
import type { ObjectImportResume, ObjectImportStep } from '../../src/control/control-ops.js'
import { IMPORT_MARGIN_MS } from '../../src/control/contacts-import-object.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { startFakeS3, type FakeS3 } from '../helpers/fake-s3.js'
import { fakeSts } from '../helpers/fake-sts.js'
import { seedCampaign } from '../helpers/fixtures.js'
import { linkedStoresEnv } from '../helpers/lambda-bundle.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

/**
 * A contacts import the control function cannot finish in one invocation (issue #13): the real
 * handler (functions/control.ts) in-process against this machine's PostgreSQL, reading the upload
 * from a fake S3 that honours Range and If-Match, with a Lambda context whose remaining time is
 * short — each invocation commits one chunk (5,000 valid rows) and answers with a continuation.
 */
const BUCKET = 'dialctl-prod-uploads-abc'
const KEY = 'contacts-uploads/0b7c2b7e-1c1a-4f5e-9a53-0a4f7f3b1e2d.csv'
const OTHER_KEY = 'contacts-uploads/9f0e1d2c-3b4a-4958-8776-655443322110.csv'
const KEY_ID = 'AKIAONCALLJANE000002'
const STS = fakeSts({
  [KEY_ID]: {
    secretAccessKey: 'jane-secret',
    arn: 'arn:aws:sts::123456789012:assumed-role/oncall/jane',
    account: '123456789012',
    userId: 'AROAEXAMPLE:jane',
  },
})

let db: TestDb
let redis: TestRedis
let s3: FakeS3
let handler: (event: unknown, context?: Context) => Promise<unknown>
const saved = { ...process.env }
const sts = new STSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: KEY_ID, secretAccessKey: 'jane-secret' },
})

/** A context whose invocation is nearly over: the import stops after its first committed chunk. */
const SHORT = { getRemainingTimeInMillis: () => IMPORT_MARGIN_MS - 1 } as unknown as Context

async function call(op: string, args: unknown[], context?: Context) {
  return handler({ op, args, proof: await presignCallerProof(sts, 'prod') }, context) as Promise<
    { ok: true; result: unknown } | { ok: false; error: { code: string; message: string; exitCode: number } }
  >
}

async function step(
  campaign: string,
  resume: ObjectImportResume | null,
  options: { key?: string; strict?: boolean; context?: Context } = {},
): Promise<ObjectImportStep> {
  const response = await call(
    'contacts.importObject',
    [campaign, options.key ?? KEY, {}, options.strict ?? false, resume],
    'context' in options ? options.context : SHORT,
  )
  if (!response.ok) throw new Error(`${response.error.code}: ${response.error.message}`)
  return JSON.parse(JSON.stringify(response.result)) as ObjectImportStep
}

/** Every step until done, as the CLI chains them (src/control/aws-upload.ts). */
async function importInSteps(campaign: string, strict = false) {
  const resumes: ObjectImportResume[] = []
  let next = await step(campaign, null, { strict })
  while (!next.done) {
    resumes.push(next.resume)
    next = await step(campaign, next.resume, { strict })
  }
  return { totals: next.totals, resumes }
}

async function createCampaign(id: string) {
  const created = await call('campaign.create', [
    { campaign: seedCampaign({ id, status: 'draft' }), actor: 'iam' },
  ])
  expect(created.ok).toBe(true)
}

async function count(campaign: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM contacts WHERE campaign_id = $1',
    [campaign],
  )
  return rows[0]!.n
}

/**
 * 17,000 valid rows with CRLF records, five refusals (two repeat a row of an earlier invocation:
 * the reader of that invocation takes them, the table refuses them) and, at each chunk's end, a quoted note of
 * several lines (LF and CRLF inside) whose second line reads like a row — a reader resuming at the
 * wrong line break would import it. `line` maps a marker to its line in the file.
 */
function buildFile() {
  const records: string[] = ['id,phone_number,note']
  const line = new Map<string, number>()
  let at = 2
  const add = (marker: string, record: string) => {
    line.set(marker, at)
    records.push(record)
    at += (record.match(/\r\n|\n/g) ?? []).length + 1
  }
  let valid = 0
  let chunked = 0
  for (let i = 0; valid < 17_000; i++) {
    if (i === 5000) add('bad-after-1st', 'bad1,0501234567,n') // right after the first boundary
    if (i === 7000) add('bad-columns', 'bad2,+972529999999') // too few fields
    if (i === 15_000) add('bad-after-3rd', 'bad3,+97252,n')
    // rows repeating a row an earlier invocation imported: refused naming its line, as in one invocation
    if (i === 12_000) add('dup-id', `k10,+972591234567,n`)
    if (i === 16_000) add('dup-number', `zz1,+97252${String(1000000 + 20)},n`)
    // the reader of a step counts those two in its chunk of 5,000
    if (i === 12_000 || i === 16_000) chunked++
    const edge = chunked % 5000 === 4999
    const note = edge
      ? `"ends chunk ${valid + 1}\r\nfake${i},+97253${String(1000000 + i)},x\nthird ""line"""`
      : `r${i}`
    add(`row-${i}`, `k${i},+97252${String(1000000 + i)},${note}`)
    valid++
    chunked++
  }
  return { text: records.join('\r\n') + '\r\n', line }
}

const FILE = buildFile()

beforeAll(async () => {
  db = await createTestDb('ctlsteps')
  redis = await createTestRedis('ctlsteps')
  s3 = await startFakeS3()
  // 7-byte writes: network chunks split quoted fields, CRLFs and the boundary itself
  s3.pieceBytes = 7
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'ASIAFUNCTIONROLE0001',
    AWS_SECRET_ACCESS_KEY: 'role-secret',
    AWS_ENDPOINT_URL_S3: s3.url,
    UPLOAD_BUCKET: BUCKET,
    POWERTOOLS_LOG_LEVEL: 'WARN',
    ...linkedStoresEnv('prod', {
      databaseUrl: db.env.DATABASE_URL,
      schema: db.schema,
      redisPrefix: redis.prefix,
    }),
  })
  const realFetch = globalThis.fetch
  vi.stubGlobal('fetch', (input: string | URL | Request, init?: RequestInit) =>
    String(input instanceof Request ? input.url : input).startsWith('https://sts.eu-west-1.amazonaws.com/')
      ? STS.fetch(input, init)
      : realFetch(input, init),
  )
  ;({ handler } = (await import('../../functions/control.js')) as unknown as { handler: typeof handler })
  s3.objects.set(`/${BUCKET}/${KEY}`, Buffer.from(FILE.text))
  s3.objects.set(`/${BUCKET}/${OTHER_KEY}`, Buffer.from('id,phone_number\r\nz1,+972541000001\r\n'))
}, 60_000)

afterAll(async () => {
  process.env = saved
  vi.unstubAllGlobals()
  await s3.close()
  await redis.cleanup()
  await db.drop()
})

beforeEach(() => {
  s3.requests.length = 0
})

describe('contacts.importObject in steps (the real control handler, PostgreSQL, a fake S3)', () => {
  it('goes on from each continuation until done: the same totals, lines and rows as one invocation', async () => {
    await createCampaign('steps')
    const { totals, resumes } = await importInSteps('steps')
    expect(resumes.length).toBeGreaterThanOrEqual(3)

    await createCampaign('oneshot')
    const oneShot = await step('oneshot', null, { context: undefined })
    // (no context: no time limit — one invocation)
    expect(oneShot.done).toBe(true)
    const whole = (oneShot as Extract<ObjectImportStep, { done: true }>).totals
    expect({ ...totals, campaignId: 'x' }).toEqual({ ...whole, campaignId: 'x' })
    expect(totals).toMatchObject({ imported: 17_000, duplicates: 0, valid: 17_000, invalidCount: 5 })
    // the file's own lines (the header is 1), as the CLI's reader of a local file reports them
    expect(totals.invalid.map((i) => [i.line, i.field])).toEqual([
      [FILE.line.get('bad-after-1st'), 'phone_number'],
      [FILE.line.get('bad-columns'), 'row'],
      [FILE.line.get('dup-id'), 'id'],
      [FILE.line.get('bad-after-3rd'), 'phone_number'],
      [FILE.line.get('dup-number'), 'phone_number'],
    ])
    expect(totals.invalid.filter((i) => i.message.startsWith('duplicates')).map((i) => i.message)).toEqual([
      `duplicates line ${FILE.line.get('row-10')} (same id); the first line is kept`,
      `duplicates line ${FILE.line.get('row-20')} (same number); the first line is kept`,
    ])
    expect(totals.invalid).toEqual(parseContactsCsv(FILE.text).invalid)
    expect(await count('steps')).toBe(17_000)
    // no row of a multi-line note was read as a record
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM contacts WHERE id LIKE 'fake%'`)
    expect(rows).toEqual([{ n: 0 }])
  }, 120_000)

  it('each continuation starts where a row starts: the first record of a step is a whole row, a refusal right after a boundary has its file line', async () => {
    await createCampaign('bounds')
    const { resumes } = await importInSteps('bounds')
    const text = Buffer.from(FILE.text)
    for (const r of resumes) {
      const at = r.position.at!
      // right after the CRLF closing a row whose note spans lines: the next record begins there
      expect(text.subarray(at.byteOffset - 2, at.byteOffset).toString()).toBe('\r\n')
      expect(text.subarray(at.byteOffset - 9, at.byteOffset).toString()).toBe('line"""\r\n')
      expect(at).toMatchObject({
        header: ['id', 'phone_number', 'note'],
        delimiter: ',',
        recordDelimiter: '\r\n',
      })
    }
    expect(resumes[0]!.position.at!.line).toBe(FILE.line.get('bad-after-1st'))
    expect(resumes[0]!.position.totals).toMatchObject({ imported: 5000, invalidCount: 0 })
    expect(resumes[1]!.position.totals.invalid[0]).toMatchObject({
      line: FILE.line.get('bad-after-1st'),
      field: 'phone_number',
    })
  }, 120_000)

  it('reads the upload once from its start, then from each boundary with Range, on the condition it is the same object', async () => {
    await createCampaign('ranges')
    const { resumes } = await importInSteps('ranges')
    const etag = s3.etagOf(`/${BUCKET}/${KEY}`)
    expect(s3.requests.map((r) => [r.method, r.path, r.headers.range, r.headers['if-match']])).toEqual([
      ['GET', `/${BUCKET}/${KEY}`, undefined, undefined],
      ...resumes.map((r) => ['GET', `/${BUCKET}/${KEY}`, `bytes=${r.position.at!.byteOffset}-`, etag]),
    ])
    for (const r of s3.requests)
      expect(String(r.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAFUNCTIONROLE0001\//)
    expect(resumes.map((r) => r.etag)).toEqual(resumes.map(() => etag))
    expect(resumes.map((r) => r.size)).toEqual(resumes.map(() => FILE.text.length))
  }, 120_000)

  it('a continuation run twice imports nothing twice: its rows are duplicates the second time', async () => {
    await createCampaign('again')
    const first = await step('again', null)
    expect(first.done).toBe(false)
    const resume = (first as Extract<ObjectImportStep, { done: false }>).resume
    const once = await step('again', resume)
    const twice = await step('again', resume)
    expect(await count('again')).toBe(10_000)
    const a = (once as Extract<ObjectImportStep, { done: false }>).resume.position.totals
    const b = (twice as Extract<ObjectImportStep, { done: false }>).resume.position.totals
    expect([a.imported, a.duplicates]).toEqual([10_000, 0])
    expect([b.imported, b.duplicates]).toEqual([5000, 5000])
  }, 120_000)

  it('under --strict, the check goes on over steps too, and a refused row refuses the file with nothing imported', async () => {
    await createCampaign('strict')
    const response = await call('contacts.importObject', ['strict', KEY, {}, true, null], SHORT)
    expect(response).toMatchObject({
      ok: true,
      result: { done: false, resume: { position: { phase: 'check' } } },
    })
    await expect(importInSteps('strict', true)).rejects.toThrow(
      // (3 here, not 5: a check spread over invocations does not see a row repeating one of an
      // earlier invocation — a known gap, see importCsvStep)
      /IMPORT_REFUSED: 3 row\(s\) .* refused under --strict/,
    )
    expect(await count('strict')).toBe(0)
  }, 120_000)
})

describe('a continuation is checked at the edge: the function reads only the upload it imports', () => {
  let resume: ObjectImportResume
  beforeAll(async () => {
    await createCampaign('edge')
    const first = await step('edge', null)
    resume = (first as Extract<ObjectImportStep, { done: false }>).resume
  }, 60_000)

  it.each([
    ['moved to another key', { key: OTHER_KEY }, /continuation\.key is not the upload this call imports/],
    [
      'moved out of the upload prefix',
      { key: 'secrets/0b7c2b7e-1c1a-4f5e-9a53-0a4f7f3b1e2d.csv' },
      /continuation\.key/,
    ],
    ['moved to another campaign', { campaignId: 'other' }, /continuation\.campaignId/],
    ['with a field it never has', { bucket: 'someone-elses' }, /continuation/],
    ['a negative byte', { position: { phase: 'import', at: { byteOffset: -1 } } }, /continuation\.position/],
  ])('%s: refused as a usage error, nothing read', async (_what, change, message) => {
    const tampered = {
      ...resume,
      ...change,
      position: { ...resume.position, ...(change as { position?: object }).position },
    }
    const response = await call('contacts.importObject', ['edge', KEY, {}, false, tampered], SHORT)
    expect(response).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', exitCode: 2 } })
    expect((response as { error: { message: string } }).error.message).toMatch(message)
    expect(s3.requests).toEqual([])
  })

  it('moved with the call to another upload: S3 refuses the read (If-Match), nothing imported', async () => {
    const before = await count('edge')
    const response = await call(
      'contacts.importObject',
      ['edge', OTHER_KEY, {}, false, { ...resume, key: OTHER_KEY }],
      SHORT,
    )
    expect(response).toMatchObject({ ok: false, error: { code: 'UPLOAD_CHANGED', exitCode: 1 } })
    expect(s3.requests.map((r) => [r.path, r.headers['if-match']])).toEqual([
      [`/${BUCKET}/${OTHER_KEY}`, resume.etag],
    ])
    expect(await count('edge')).toBe(before)
  })
})
