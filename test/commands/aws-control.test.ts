import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { DescribePipeCommand, PipesClient } from '@aws-sdk/client-pipes'
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
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
const PROD_OUTPUTS = { ...OUTPUTS, controlFunctionName: CONTROL }
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
  const { handler } = await import('../../functions/control.js')
  lambda.on(InvokeCommand).callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => {
    expect(input.FunctionName).toBe(CONTROL)
    const request = JSON.parse(new TextDecoder().decode(input.Payload)) as (typeof invoked)[number]
    invoked.push(request)
    // The wire is JSON both ways, as Lambda's is.
    const response = JSON.parse(JSON.stringify(await handler(request)))
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

  it('status and doctor reach the stores through the function (stores.ping) and AWS directly', async () => {
    const status = await dialctl(['status', '--json'])
    expect(status.exitCode, status.stderr).toBe(0)
    const doctor = await dialctl(['doctor', '--json'])
    expect(JSON.stringify(jsonOf(doctor))).not.toMatch(/sst deploy/)
    expect(ops()).toEqual(expect.arrayContaining(['stores.ping']))
    expect(pipes.commandCalls(DescribePipeCommand)[0]!.args[0].input).toEqual({ Name: PROD_OUTPUTS.pipeName })
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
