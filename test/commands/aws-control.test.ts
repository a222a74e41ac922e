import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { DescribePipeCommand, PipesClient } from '@aws-sdk/client-pipes'
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Context } from 'aws-lambda'
import { startFakeS3, type FakeS3 } from '../helpers/fake-s3.js'
import { fakeSts } from '../helpers/fake-sts.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { seedCampaign } from '../helpers/fixtures.js'
import { linkedStoresEnv } from '../helpers/lambda-bundle.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { PROD_OUTPUTS as OUTPUTS } from '../helpers/stage-outputs.js'
import { dialctl, jsonOf } from './helpers.js'

/**
 * Every data command against an AWS stage with nothing but AWS credentials: no DATABASE_URL, no
 * REDIS_URL, no tunnel. Only the AWS transport is mocked: each lambda:Invoke of the stage's
 * control function runs the real handler (functions/control.ts) in-process against this machine's
 * PostgreSQL and Redis, configured through SST links as on AWS. The function learns who calls
 * from STS (the caller's presigned GetCallerIdentity), here a fake STS that checks the signature.
 */
const CONTROL = 'dialctl-prod-ControlFunction-xyz'
const BUCKET = 'dialctl-prod-uploads-abc'
const PROD_OUTPUTS = { ...OUTPUTS, controlFunctionName: CONTROL, uploadBucketName: BUCKET }
const CALLER = {
  Arn: 'arn:aws:sts::123456789012:assumed-role/oncall/jane',
  Account: '123456789012',
  UserId: 'AROAEXAMPLE:jane',
}
const KEY_ID = 'AKIAONCALLJANE000001'
const STS = fakeSts({
  [KEY_ID]: {
    secretAccessKey: 'jane-secret',
    arn: CALLER.Arn,
    account: CALLER.Account,
    userId: CALLER.UserId,
  },
})

const lambda = mockClient(LambdaClient)
const sqs = mockClient(SQSClient)
const pipes = mockClient(PipesClient)
const cloudwatch = mockClient(CloudWatchClient)

/** The stage's upload bucket, as S3 answers dialctl's PutObject and the function's GetObject. */
let s3: FakeS3
/**
 * The Lambda context each Invoke of the control function gets: its remaining time. Undefined: no
 * context (no time limit); a test sets it to make an import go on over several invocations.
 */
let remainingMs: (() => number) | undefined

let db: TestDb
let redis: TestRedis
let dir: string
const saved = { ...process.env }
const invoked: { op: string; args: unknown[]; proof: Record<string, string> }[] = []

beforeAll(async () => {
  db = await createTestDb('ctlfn')
  redis = await createTestRedis('ctlfn')
  dir = mkdtempSync(join(tmpdir(), 'dialctl-ctlfn-'))
  writeFileSync(join(dir, 'outputs.json'), JSON.stringify(PROD_OUTPUTS))
  delete process.env.DATABASE_URL
  delete process.env.REDIS_URL
  Object.assign(process.env, {
    DIALCTL_OUTPUTS_FILE: join(dir, 'outputs.json'),
    DIALCTL_STAGE: 'prod',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: KEY_ID,
    AWS_SECRET_ACCESS_KEY: 'jane-secret',
    NO_COLOR: '1',
    // The in-process function logs to this process's stdout; on AWS its lines go to CloudWatch.
    POWERTOOLS_LOG_LEVEL: 'WARN',
    // What the control function's own environment holds on AWS (the links), for the in-process handler.
    ...linkedStoresEnv('prod', {
      databaseUrl: db.env.DATABASE_URL,
      schema: db.schema,
      redisPrefix: redis.prefix,
    }),
  })
  s3 = await startFakeS3()
  process.env.AWS_ENDPOINT_URL_S3 = s3.url
  // the function's own settings on AWS (stacks/functions.ts): its bucket, and its role's credentials
  process.env.UPLOAD_BUCKET = BUCKET
  const { handler } = await import('../../functions/control.js')
  lambda.on(InvokeCommand).callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => {
    expect(input.FunctionName).toBe(CONTROL)
    const request = JSON.parse(new TextDecoder().decode(input.Payload)) as (typeof invoked)[number]
    invoked.push(request)
    // The wire is JSON both ways, as Lambda's is.
    const context = remainingMs
      ? ({ getRemainingTimeInMillis: remainingMs } as unknown as Context)
      : undefined
    const response = JSON.parse(JSON.stringify(await handler(request, context)))
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(response)) }
  })
  // The function's only outbound call besides the stores: STS, through the VPC's NAT on AWS.
  const realFetch = globalThis.fetch
  vi.stubGlobal('fetch', (input: string | URL | Request, init?: RequestInit) =>
    String(input instanceof Request ? input.url : input).startsWith('https://sts.eu-west-1.amazonaws.com/')
      ? STS.fetch(input, init)
      : realFetch(input, init),
  )
})

afterAll(async () => {
  process.env = saved
  vi.unstubAllGlobals()
  await s3.close()
  for (const m of [lambda, sqs, pipes, cloudwatch]) m.restore()
  await redis.cleanup()
  await db.drop()
})

beforeEach(() => {
  invoked.length = 0
  lambda.resetHistory()
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] })
  cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] })
  sqs.on(GetQueueAttributesCommand).resolves({
    Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
  })
  pipes.on(DescribePipeCommand).resolves({
    Name: PROD_OUTPUTS.pipeName,
    CurrentState: 'RUNNING',
    DesiredState: 'RUNNING',
    Source: PROD_OUTPUTS.queueArn,
    Target: 'arn:aws:lambda:eu-west-1:123456789012:function:dialer',
  })
})

const ops = () => invoked.map((r) => r.op)

describe('dialctl against an AWS stage through its control function (credentials only)', () => {
  it('cps set records the IAM identity STS returns for the caller proof, not a local user name', async () => {
    const run = await dialctl(['cps', 'set', '42', '--reason', 'carrier asked', '--json'])
    expect(run.exitCode).toBe(0)
    expect(jsonOf(run)).toMatchObject({ stage: 'prod', change: { newLimit: 42, actor: CALLER.Arn } })
    expect(ops()).toEqual(['pacing.set'])
    const [call] = lambda.commandCalls(InvokeCommand)
    expect({
      ...call!.args[0].input,
      Payload: JSON.parse(new TextDecoder().decode(call!.args[0].input.Payload as Uint8Array)),
    }).toEqual({
      FunctionName: CONTROL,
      InvocationType: 'RequestResponse',
      Payload: {
        op: 'pacing.set',
        // a manual limit is held until `cps auto --resume` (issue #12)
        args: [42, 'carrier asked', 'iam', 'cli', { hold: { untilMs: null } }],
        // no claimed identity: a presigned GetCallerIdentity the function runs against STS
        proof: {
          'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
          'X-Amz-Credential': expect.stringMatching(
            new RegExp(`^${KEY_ID}/\\d{8}/eu-west-1/sts/aws4_request$`),
          ),
          'X-Amz-Date': expect.stringMatching(/^\d{8}T\d{6}Z$/),
          'X-Amz-Expires': '60',
          'X-Amz-SignedHeaders': 'host;x-dialctl-stage',
          'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      },
    })
    const stsCall = STS.calls.at(-1)!
    expect(new URL(stsCall.url).searchParams.get('Action')).toBe('GetCallerIdentity')
    expect(stsCall.headers).toEqual({ 'x-dialctl-stage': 'prod' })
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBe('42')
  })

  it('cps get and history read the stage through the function', async () => {
    const get = await dialctl(['cps', 'get', '--json'])
    expect(get.exitCode).toBe(0)
    expect(jsonOf(get)).toMatchObject({ limit: { limit: 42, source: 'redis' } })
    const history = await dialctl(['cps', 'history', '--json'])
    expect(history.exitCode).toBe(0)
    expect(JSON.stringify(jsonOf(history))).toContain(CALLER.Arn)
    expect(ops()).toEqual(expect.arrayContaining(['pacing.get', 'pacing.history']))
  })

  it('cps auto --once --dry-run decides from the function-served inputs', async () => {
    const run = await dialctl(['cps', 'auto', '--once', '--dry-run', '--json'])
    expect(run.exitCode).toBe(0)
    expect(ops()).toEqual(expect.arrayContaining(['outcomes.answerRate', 'pacing.get']))
  })

  it('campaign create, list, show and every move go through the function, audited with the caller', async () => {
    const file = join(dir, 'campaign.json')
    writeFileSync(file, JSON.stringify(seedCampaign({ id: 'aws-c1', status: 'draft' })))
    const create = await dialctl(['campaign', 'create', '-f', file, '--no-audio-check', '--json'])
    expect(create.exitCode, create.stderr).toBe(0)
    expect((await dialctl(['campaign', 'list', '--json'])).exitCode).toBe(0)
    expect((await dialctl(['campaign', 'show', 'aws-c1', '--json'])).exitCode).toBe(0)
    const csv = join(dir, 'c1.csv')
    writeFileSync(csv, 'id,phone_number\nm1,+972501234569\n')
    expect((await dialctl(['contacts', 'import', '--campaign', 'aws-c1', csv])).exitCode).toBe(0)
    for (const move of ['start', 'pause', 'resume', 'complete']) {
      // start/resume check the audio first (its URL is unreachable here): that read goes through the function too
      const noCheck = move === 'start' || move === 'resume' ? ['--no-audio-check'] : []
      const run = await dialctl([
        'campaign',
        move,
        'aws-c1',
        '--reason',
        `on-call ${move}`,
        ...noCheck,
        '--json',
      ])
      expect(run.exitCode, `${move}: ${run.stdout} ${run.stderr}`).toBe(0)
    }
    const { rows } = await db.pool.query(
      `SELECT DISTINCT actor FROM campaign_events WHERE campaign_id = 'aws-c1'`,
    )
    expect(rows).toEqual([{ actor: CALLER.Arn }])
    expect(ops()).toEqual(
      expect.arrayContaining(['campaign.create', 'campaign.list', 'campaign.show', 'campaign.transition']),
    )
  })

  it('campaign start runs the audio check through the function (campaign.media) and refuses unplayable audio', async () => {
    const file = join(dir, 'c-audio.json')
    writeFileSync(file, JSON.stringify(seedCampaign({ id: 'aws-audio', status: 'draft' })))
    expect((await dialctl(['campaign', 'create', '-f', file, '--no-audio-check'])).exitCode).toBe(0)
    const csv = join(dir, 'c-audio.csv')
    writeFileSync(csv, 'id,phone_number\nm1,+972501234569\n')
    expect((await dialctl(['contacts', 'import', '--campaign', 'aws-audio', csv])).exitCode).toBe(0)
    const run = await dialctl(['campaign', 'start', 'aws-audio', '--json'])
    expect(run.exitCode).toBe(1)
    expect(jsonOf(run)).toMatchObject({ error: { code: 'AUDIO_CHECK_FAILED' } })
    expect(ops()).toContain('campaign.media')
    const { rows } = await db.pool.query(`SELECT status FROM campaigns WHERE id = 'aws-audio'`)
    expect(rows).toEqual([{ status: 'draft' }])
  })

  it('campaign cancel: an error from the stage (unknown campaign) keeps its message and exit code', async () => {
    const run = await dialctl(['campaign', 'cancel', 'no-such', '--reason', 'x'])
    expect(run.exitCode).not.toBe(0)
    expect(run.stderr).toContain('no-such')
  })

  it('contacts import sends the parsed rows to the function', async () => {
    const file = join(dir, 'contacts.csv')
    writeFileSync(file, 'id,phone_number,name\nk1,+972501234567,A\nk2,+972501234568,B\n')
    const file2 = join(dir, 'campaign2.json')
    writeFileSync(file2, JSON.stringify(seedCampaign({ id: 'aws-c2', status: 'draft' })))
    expect((await dialctl(['campaign', 'create', '-f', file2, '--no-audio-check'])).exitCode).toBe(0)
    const run = await dialctl(['contacts', 'import', '--campaign', 'aws-c2', file, '--json'])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(jsonOf(run)).toMatchObject({ imported: 2 })
    const { rows } = await db.pool.query(`SELECT id FROM contacts WHERE campaign_id = 'aws-c2' ORDER BY id`)
    expect(rows.map((r) => r.id)).toEqual(['k1', 'k2'])
  })

  // Issue #15: push on AWS registers the contact through the function (contacts.registerPushed),
  // then sends to SQS only what the function did not refuse.
  it('push registers the contact through the function and sends it; a conflicting one is refused, exit 2, not sent', async () => {
    const file = join(dir, 'campaign-push.json')
    writeFileSync(file, JSON.stringify(seedCampaign({ id: 'aws-push', status: 'active' })))
    expect((await dialctl(['campaign', 'create', '-f', file, '--no-audio-check'])).exitCode).toBe(0)
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-push' })
    const push = (contact: string) =>
      dialctl(['push', '--campaign', 'aws-push', '--phone', '+972501230001', '--contact', contact, '--json'])
    const ok = await push('p1')
    expect(ok.exitCode, ok.stderr).toBe(0)
    expect(jsonOf(ok)).toMatchObject({ messageId: 'm-push', contactId: 'p1' })
    expect(invoked.map((i) => i.op)).toContain('contacts.registerPushed')
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1)
    const other = await push('p2')
    expect(other.exitCode).toBe(2)
    expect(jsonOf(other)).toMatchObject({
      error: {
        code: 'PUSH_CONTACT_CONFLICT',
        message: expect.stringMatching(/is already contact p1 of campaign aws-push/),
        suggestion: 'Push that number as --contact p1, or another number.',
      },
    })
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1)
  })

  it('status and doctor reach the stores through the function (stores.ping) and AWS directly', async () => {
    const status = await dialctl(['status', '--json'])
    expect(status.exitCode, status.stderr).toBe(0)
    const doctor = await dialctl(['doctor', '--json'])
    expect(JSON.stringify(jsonOf(doctor))).not.toMatch(/sst deploy/)
    expect(ops()).toEqual(expect.arrayContaining(['stores.ping']))
    expect(pipes.commandCalls(DescribePipeCommand)[0]!.args[0].input).toEqual({ Name: PROD_OUTPUTS.pipeName })
  })
})

describe('report and large imports through the function', () => {
  it('campaign report (table, --format csv, --format json) reads the stage through the function, paged', async () => {
    const file = join(dir, 'c-report.json')
    writeFileSync(file, JSON.stringify(seedCampaign({ id: 'aws-rep', status: 'draft' })))
    expect((await dialctl(['campaign', 'create', '-f', file, '--no-audio-check'])).exitCode).toBe(0)
    const csv = join(dir, 'rep.csv')
    writeFileSync(csv, 'id,phone_number\nr1,+972501234561\nr2,+972501234562\nr3,+972501234563\n')
    expect((await dialctl(['contacts', 'import', '--campaign', 'aws-rep', csv])).exitCode).toBe(0)
    invoked.length = 0
    const table = await dialctl(['campaign', 'report', 'aws-rep', '--json'])
    expect(table.exitCode, table.stderr).toBe(0)
    expect(jsonOf(table)).toMatchObject({ campaignId: 'aws-rep', contacts: { total: 3 } })
    const asCsv = await dialctl(['campaign', 'report', 'aws-rep', '--format', 'csv'])
    expect(asCsv.exitCode, asCsv.stderr).toBe(0)
    expect(
      asCsv.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(',')[0]),
    ).toEqual(['contactId', 'r1', 'r2', 'r3'])
    expect(asCsv.stdout).not.toContain('+972501234561')
    const asJson = await dialctl(['campaign', 'report', 'aws-rep', '--format', 'json'])
    expect(asJson.exitCode, asJson.stderr).toBe(0)
    expect((JSON.parse(asJson.stdout) as { contactId: string }[]).map((r) => r.contactId)).toEqual([
      'r1',
      'r2',
      'r3',
    ])
    expect(ops()).toEqual(expect.arrayContaining(['campaign.report', 'campaign.contactResults']))
    const page = invoked.find((r) => r.op === 'campaign.contactResults')!
    expect(page.args).toEqual(['aws-rep', null, 2000])
  })

  it('contacts import of a file over 1 MiB: uploaded to the stage bucket, imported by the function, refusals by line', async () => {
    const file = join(dir, 'c-big.json')
    writeFileSync(file, JSON.stringify(seedCampaign({ id: 'aws-big', status: 'draft' })))
    expect((await dialctl(['campaign', 'create', '-f', file, '--no-audio-check'])).exitCode).toBe(0)
    const pad = 'x'.repeat(1200)
    const lines = ['id,phone_number,note']
    for (let i = 0; i < 1000; i++) lines.push(`b${i},+97250${String(1000000 + i)},${pad}`)
    lines.push('bad,0501234567,' + pad) // line 1002: not E.164
    const csv = join(dir, 'big.csv')
    writeFileSync(csv, lines.join('\n') + '\n')
    s3.requests.length = 0
    invoked.length = 0
    const run = await dialctl(['contacts', 'import', '--campaign', 'aws-big', csv, '--json'])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(jsonOf(run)).toMatchObject({
      imported: 1000,
      invalidCount: 1,
      invalid: [{ line: 1002, field: 'phone_number' }],
    })
    // one PutObject by the CLI (the operator's key), one GetObject by the function
    expect(s3.requests.map((r) => [r.method, r.path.replace(/[0-9a-f-]{36}/, 'UUID')])).toEqual([
      ['PUT', `/${BUCKET}/contacts-uploads/UUID.csv`],
      ['GET', `/${BUCKET}/contacts-uploads/UUID.csv`],
    ])
    const put = s3.requests[0]!
    expect(put.headers['content-length']).toBe(String(lines.join('\n').length + 1))
    expect(put.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD')
    expect(String(put.headers.authorization)).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/eu-west-1/s3/aws4_request, SignedHeaders=`),
    )
    expect(ops()).toEqual(['contacts.importObject'])
    expect(invoked[0]!.args).toEqual([
      'aws-big',
      expect.stringMatching(/^contacts-uploads\/[0-9a-f-]{36}\.csv$/),
      {},
      false,
      null,
    ])
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM contacts WHERE campaign_id = 'aws-big'`,
    )
    expect(rows).toEqual([{ n: 1000 }])
  })

  it('contacts import the function cannot finish in one invocation: the CLI sends each continuation back until done, one summary', async () => {
    const file = join(dir, 'c-steps.json')
    writeFileSync(file, JSON.stringify(seedCampaign({ id: 'aws-steps', status: 'draft' })))
    expect((await dialctl(['campaign', 'create', '-f', file, '--no-audio-check'])).exitCode).toBe(0)
    // 16,001 valid rows: 5,000 a chunk, one chunk an invocation (its time is already short) → 4 steps;
    // over 1 MiB, so uploaded
    const pad = 'x'.repeat(60)
    const lines = ['id,phone_number,note']
    for (let i = 0; i < 16_001; i++) {
      if (i === 5000) lines.push('bad-1,0501234567,x') // the first line after the first boundary
      lines.push(`s${i},+97252${String(1000000 + i)},${i % 5000 === 4999 ? '"two\nlines"' : pad}`)
    }
    const csv = join(dir, 'steps.csv')
    writeFileSync(csv, lines.join('\n') + '\n')
    const { IMPORT_MARGIN_MS } = await import('../../src/control/contacts-import-object.js')
    remainingMs = () => IMPORT_MARGIN_MS - 1
    s3.requests.length = 0
    invoked.length = 0
    try {
      const run = await dialctl(['contacts', 'import', '--campaign', 'aws-steps', csv, '--json'])
      expect(run.exitCode, run.stderr).toBe(0)
      // the same document a one-shot import gives: every step's counts and refusals, file lines
      expect(jsonOf(run)).toEqual({
        campaignId: 'aws-steps',
        imported: 16_001,
        duplicates: 0,
        blacklisted: [],
        invalid: [{ line: 5002 + 1, field: 'phone_number', message: expect.stringContaining('E.164') }],
        invalidCount: 1,
      })
    } finally {
      remainingMs = undefined
    }
    expect(ops()).toEqual(Array(4).fill('contacts.importObject'))
    // each step after the first gets back, unchanged, the continuation the one before answered
    const steps = invoked.map((r) => r.args[4] as { position: { at: { byteOffset: number } } } | null)
    expect(steps[0]).toBeNull()
    const offsets = steps.slice(1).map((r) => r!.position.at.byteOffset)
    // after the 5,000th, 10,000th and 15,000th valid row (lines[] index + 1; the bad row sits after the first)
    const boundary = (n: number) => Buffer.byteLength(lines.slice(0, n).join('\n') + '\n')
    expect(offsets).toEqual([5001, 10_002, 15_002].map(boundary))
    const gets = s3.requests.filter((r) => r.method === 'GET')
    const etag = s3.etagOf(gets[0]!.path)
    expect(gets.map((r) => [r.headers.range, r.headers['if-match']])).toEqual([
      [undefined, undefined],
      ...offsets.map((o) => [`bytes=${o}-`, etag]),
    ])
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM contacts WHERE campaign_id = 'aws-steps'`,
    )
    expect(rows).toEqual([{ n: 16_001 }])
  }, 120_000) // 16,001 rows through four real import steps: seconds on a quiet machine, over 30 s on a loaded one

  it('contacts import of a file over 5 GB: refused before anything is sent, naming the limit and how to split', async () => {
    const huge = join(dir, 'huge.csv')
    writeFileSync(huge, 'id,phone_number\n')
    // sparse: 6 GiB on stat, no disk used; the CLI refuses on the size alone
    truncateSync(huge, 6 * 1024 ** 3)
    s3.requests.length = 0
    invoked.length = 0
    const run = await dialctl(['contacts', 'import', '--campaign', 'aws-big', huge, '--json'])
    expect(run.exitCode).toBe(1)
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        code: 'FILE_TOO_LARGE',
        message: `${huge} is 6.00 GiB; one upload to the stage takes at most 5 GiB (S3's single PutObject limit).`,
        suggestion: expect.stringContaining('split -C 4G'),
      },
    })
    expect(s3.requests).toEqual([])
    expect(invoked).toEqual([])
  })
})

describe('strict arguments at the control API edge (the real handler)', () => {
  const ARN = CALLER.Arn
  async function call(op: string, args: unknown[]) {
    const { handler } = await import('../../functions/control.js')
    const { presignCallerProof } = await import('../../src/control/caller-presign.js')
    const { STSClient } = await import('@aws-sdk/client-sts')
    const sts = new STSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: KEY_ID, secretAccessKey: 'jane-secret' },
    })
    return handler({ op, args, proof: await presignCallerProof(sts, 'prod') })
  }
  const bad: [string, unknown[], RegExp][] = [
    ['pacing.set', [0, 'r', 'iam', 'cli'], /limit must be at least 1/],
    ['pacing.set', [10_001, 'r', 'iam', 'cli'], /limit must be at most 10000/],
    ['pacing.set', [2.5, 'r', 'iam', 'cli'], /limit must be a whole number/],
    ['pacing.set', [5, '   ', 'iam', 'cli'], /--reason is empty/],
    ['pacing.set', [5, 'a\u001b[2Jb', 'iam', 'cli'], /--reason must be one line without control characters/],
    ['pacing.set', [5, 'r', 'iam', 'cli', { hold: { untilMs: -1 } }], /options\.hold\.untilMs/],
    ['pacing.set', [5, 'r', 'iam', 'mallory'], /source/],
    ['pacing.resume', ['x'.repeat(501)], /--reason must be at most 500/],
    ['pacing.history', [0], /--limit/],
    ['pacing.history', [100_000], /--limit/],
    ['campaign.show', [''], /campaign id/],
    ['campaign.show', ['a\u0000b'], /campaign id must not contain control characters/],
    ['campaign.show', ['c'.repeat(201)], /campaign id/],
    ['campaign.media', [100_000], /window minutes/],
    ['campaign.transition', ['c1', 'explode', null, 'iam'], /move/],
    ['campaign.transition', ['c1', 'pause', '\u0007', 'iam'], /--reason/],
    ['campaign.create', [{ campaign: 'nope', actor: 'iam' }], /campaign\.campaign/],
    ['campaign.report', [42], /campaign id/],
    ['campaign.contactResults', ['c1', null, 5000], /page size/],
    [
      'contacts.import',
      ['c1', [{ line: 2, id: 'k', phoneNumber: '+972501234567', metadata: {}, sql: 'x' }]],
      /rows\.0/,
    ],
    [
      'contacts.import',
      [
        'c1',
        Array.from({ length: 2001 }, (_, i) => ({
          line: i + 2,
          id: `k${i}`,
          phoneNumber: '+972501234567',
          metadata: {},
        })),
      ],
      /rows/,
    ],
    [
      'contacts.importObject',
      ['c1', '../../etc/passwd', {}, false],
      /upload key must be an upload key dialctl made/,
    ],
    [
      'contacts.importObject',
      ['c1', 'other-prefix/0b7c2b7e-1c1a-4f5e-9a53-0a4f7f3b1e2d.csv', {}, false],
      /upload key/,
    ],
    [
      'contacts.importObject',
      ['c1', 'contacts-uploads/0b7c2b7e-1c1a-4f5e-9a53-0a4f7f3b1e2d.csv', { delimiter: '"' }, false],
      /CSV options\.delimiter/,
    ],
    [
      'contacts.registerPushed',
      [[{ id: 'p1', task: { campaignId: 'c1', contactId: 'k', phoneNumber: '0509990001', attempts: 0 } }]],
      /tasks\.0\.task\.phoneNumber/,
    ],
    [
      'contacts.registerPushed',
      [
        [
          {
            id: 'p1',
            task: { campaignId: 'c1', contactId: 'k', phoneNumber: '+972501234567', attempts: 5000 },
          },
        ],
      ],
      /attempts/,
    ],
    [
      'contacts.registerPushed',
      [
        [
          {
            id: 'p1',
            task: { campaignId: 'c1', contactId: 'k', phoneNumber: '+972501234567', attempts: 0 },
            timezone: 'Mars/Olympus',
          },
        ],
      ],
      /timezone/,
    ],
    ['run.progress', ['c1', 'lt-', 'yesterday', []], /since/],
    ['outcomes.recent', [-5], /window minutes/],
  ]
  it.each(bad)(
    '%s %j is refused as a usage error naming the argument and the next command',
    async (op, args, message) => {
      const before = await redis.redis.get(`${redis.prefix}cps:limit`)
      const response = await call(op, args)
      expect(response).toMatchObject({
        ok: false,
        caller: ARN,
        error: { code: 'INVALID_INPUT', exitCode: 2, suggestion: expect.stringMatching(/^Run dialctl /) },
      })
      const error = (response as { error: { message: string } }).error
      expect(error.message).toMatch(message)
      // a refused number is never echoed (the rule only)
      expect(error.message).not.toContain('0509990001')
      expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBe(before)
    },
  )

  it('the CLI shows a stage refusal with the next command and exit 2', async () => {
    const run = await dialctl(['campaign', 'show', 'c'.repeat(201), '--json'])
    expect(run.exitCode).toBe(2)
    expect(jsonOf(run)).toMatchObject({
      error: { code: 'INVALID_INPUT', suggestion: expect.stringContaining('dialctl campaign list') },
    })
  })
})

describe('the caller cannot name itself', () => {
  it('an Invoke whose proof is signed with a key STS does not know is refused; nothing changes', async () => {
    const { handler } = await import('../../functions/control.js')
    const { presignCallerProof } = await import('../../src/control/caller-presign.js')
    const { STSClient } = await import('@aws-sdk/client-sts')
    const mallory = new STSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: KEY_ID, secretAccessKey: 'not-janes-secret' },
    })
    const response = await handler({
      op: 'pacing.set',
      args: [7, 'forged', 'iam', 'cli'],
      proof: await presignCallerProof(mallory, 'prod'),
      // an old-style claim is ignored (stripped by the request schema)
      caller: { arn: CALLER.Arn },
    })
    expect(response).toMatchObject({ ok: false, error: { code: 'CALLER_UNVERIFIED', exitCode: 1 } })
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).not.toBe('7')
  })
})

describe('errors that help at 3 a.m. (no deploy advice)', () => {
  it('no region: names --region and AWS_REGION', async () => {
    const region = process.env.AWS_REGION
    delete process.env.AWS_REGION
    try {
      const run = await dialctl(['cps', 'get', '--stage', 'prod'])
      expect(run.exitCode).toBe(1)
      expect(run.stderr).toContain('No AWS region for stage "prod".')
      expect(run.stderr).toContain('--region')
      expect(run.stderr).toContain('AWS_REGION')
      expect(run.stderr).not.toMatch(/sst deploy|NodeVersionSupportWarning/)
    } finally {
      process.env.AWS_REGION = region
    }
  })
})
