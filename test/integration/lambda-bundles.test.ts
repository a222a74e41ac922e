import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { STSClient } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { presignCallerProof } from '../../src/control/caller-presign.js'
import { fakeStsServer } from '../helpers/fake-sts.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { primeLimiter } from '../helpers/pacing.js'
import {
  bundleLambda,
  emfMetrics,
  invokeBundle,
  linkedStoresEnv,
  type EmittedMetric,
  type LambdaArtifact,
} from '../helpers/lambda-bundle.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { TIME_ZONE_DATA } from '../../src/campaigns/time-zone-data.js'

const CONTROL_COPY_FILES = [{ from: TIME_ZONE_DATA.package, to: TIME_ZONE_DATA.bundled }]
import { insertCampaign, insertContacts, phoneFor } from './dispatch-fixtures.js'

/**
 * Every Lambda in functions/, bundled as SST bundles it and loaded from a folder that holds only
 * what SST ships (bundle.mjs, package.json, node_modules/pg), handling a representative event
 * against this machine's PostgreSQL and Redis. The worker and SQS are tiny HTTP servers here
 * (AWS cannot be reached); everything else is the shipped code, configured the way the stack
 * configures it: SST links (SST_RESOURCE_*) for the stores and secrets, plain env for the rest.
 */
const FUNCTIONS = readdirSync(path.resolve(import.meta.dirname, '../../functions'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort()

let db: TestDb
let redis: TestRedis
let worker: Server
let sqs: Server
const dialRequests: { authorization?: string; body: { callId: string; contactId: string } }[] = []
const sqsRequests: {
  target?: string
  body: { QueueUrl: string; Entries: { Id: string; MessageBody: string }[] }
}[] = []
const artifacts = new Map<string, LambdaArtifact>()
/** every metric the bundles emitted (EMF on stdout), across the tests below */
const emitted: EmittedMetric[] = []

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return JSON.parse(text)
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  )
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

let workerUrl = ''
let sqsUrl = ''
let stsUrl = ''
let sts: Server
/** The on-call engineer's key, known to the fake STS the control bundle verifies callers with. */
const ONCALL = {
  keyId: 'AKIAONCALLBUNDLE0001',
  secretAccessKey: 'oncall-secret',
  arn: 'arn:aws:iam::123456789012:user/oncall',
  account: '123456789012',
  userId: 'AIDAONCALL',
}
const proof = () =>
  presignCallerProof(
    new STSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: ONCALL.keyId, secretAccessKey: ONCALL.secretAccessKey },
    }),
    'bundle',
  )

/** The environment SST gives a linked function: links as SST_RESOURCE_<Name> JSON. */
function stageEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDBUNDLETEST',
    AWS_SECRET_ACCESS_KEY: 'bundle-test',
    AWS_LAMBDA_FUNCTION_NAME: 'bundle-test',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_NAMESPACE: 'Dialctl/bundle',
    ...linkedStoresEnv('bundle', {
      databaseUrl: db.env.DATABASE_URL,
      schema: db.schema,
      redisPrefix: redis.prefix,
    }),
    SST_RESOURCE_WorkerToken: JSON.stringify({ value: 'bundle-token' }),
    ...extra,
  }
}

beforeAll(async () => {
  db = await createTestDb('bundle')
  redis = await createTestRedis('bundle')
  worker = createServer((req, res) => {
    void readJson(req).then((body) => {
      const command = body as { callId: string; contactId: string }
      dialRequests.push({
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        body: command,
      })
      res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ callId: command.callId }))
    })
  })
  // SQS's JSON protocol (X-Amz-Target: AmazonSQS.<Operation>), as much as the dispatcher uses.
  sqs = createServer((req, res) => {
    void readJson(req).then((body) => {
      const input = body as (typeof sqsRequests)[number]['body']
      sqsRequests.push({
        ...(req.headers['x-amz-target'] ? { target: String(req.headers['x-amz-target']) } : {}),
        body: input,
      })
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(
        JSON.stringify({
          Successful: input.Entries.map((e) => ({
            Id: e.Id,
            MessageId: `sqs-${e.Id}`,
            MD5OfMessageBody: md5(e.MessageBody),
          })),
          Failed: [],
        }),
      )
    })
  })
  sts = fakeStsServer({ [ONCALL.keyId]: ONCALL })
  ;[workerUrl, sqsUrl, stsUrl] = await Promise.all([listen(worker), listen(sqs), listen(sts)])
  await Promise.all(
    FUNCTIONS.map(async (name) => {
      // the control function ships libphonenumber's time-zone data as stacks/functions.ts copies it
      artifacts.set(name, await bundleLambda(name, name === 'control' ? CONTROL_COPY_FILES : []))
    }),
  )
})

afterAll(async () => {
  for (const a of artifacts.values()) a.remove()
  worker?.close()
  sqs?.close()
  sts?.close()
  await redis?.cleanup()
  await db?.drop()
})

const record = (messageId: string, body: string) => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1705318245000',
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: '1705318245001',
  },
  messageAttributes: {},
  md5OfBody: md5(body),
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:dial-tasks',
  awsRegion: 'eu-west-1',
})

const task = (i: number) => ({
  campaignId: 'bundle-c',
  contactId: `ct-${i}`,
  phoneNumber: phoneFor(i),
  metadata: { n: i },
  attempts: 0,
})

async function invoke(name: string, event: unknown, env: Record<string, string> = {}) {
  const artifact = artifacts.get(name)
  if (!artifact) throw new Error(`no artifact for ${name}`)
  const out = await invokeBundle(artifact, event, stageEnv(env))
  emitted.push(...emfMetrics(out.stdout))
  // The whole error, so a failure here says which file or variable the bundle lacked.
  expect(out.error).toBeUndefined()
  return out.result
}

describe('Lambda artifacts as SST ships them', () => {
  it('covers every function in functions/', () => {
    expect(FUNCTIONS).toEqual(['control', 'dialer-worker', 'dispatcher', 'enrich-dial-task', 'pacer'])
  })

  it('enrich-dial-task: SQS records from the pipe → enriched tasks from PostgreSQL', async () => {
    await insertCampaign(db.pool, 'bundle-c')
    const out = (await invoke('enrich-dial-task', [
      record('m-1', JSON.stringify(task(1))),
      record('m-bad', '{"campaignId": '),
    ])) as { messageId: string; campaign: { id: string } }[]
    expect(out.map((t) => [t.messageId, t.campaign.id])).toEqual([['m-1', 'bundle-c']])
    const { rows } = await db.pool.query(
      `SELECT message_id, outcome FROM task_outcomes WHERE message_id = 'm-bad'`,
    )
    expect(rows).toEqual([{ message_id: 'm-bad', outcome: 'dropped' }])
  })

  it('dialer-worker: enriched tasks → admitted by the Redis limiter → POST /dial with the linked token', async () => {
    const enriched = (await invoke('enrich-dial-task', [record('m-2', JSON.stringify(task(2)))])) as unknown[]
    expect(enriched).toHaveLength(1)
    // a limiter with no state starts a horizon late (issue #12); this one has been running
    await primeLimiter(redis.redis, redis.prefix)
    const out = await invoke('dialer-worker', enriched, { WORKER_URL: workerUrl })
    expect(out).toEqual({ batchItemFailures: [] })
    expect(dialRequests.map((r) => [r.authorization, r.body.contactId])).toEqual([
      ['Bearer bundle-token', 'ct-2'],
    ])
    const admitted = await redis.redis.keys(`${redis.prefix}*`)
    expect(admitted.length).toBeGreaterThan(0)
  })

  it('dispatcher: {campaignId} → due contacts sent to the dial-tasks queue', async () => {
    await insertCampaign(db.pool, 'bundle-d')
    await insertContacts(db.pool, 'bundle-d', 3)
    const queueUrl = `${sqsUrl}/123456789012/dial-tasks`
    const out = (await invoke(
      'dispatcher',
      { campaignId: 'bundle-d' },
      { QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: sqsUrl },
    )) as { queued: number }
    expect(out.queued).toBe(3)
    expect(sqsRequests.map((r) => [r.target, r.body.QueueUrl, r.body.Entries.length])).toEqual([
      ['AmazonSQS.SendMessageBatch', queueUrl, 3],
    ])
  })

  it('pacer: one controller step against the stage stores (no CPU input configured)', async () => {
    const out = (await invoke('pacer', {})) as { action: string }
    expect(typeof out.action).toBe('string')
  })

  it('control: the operator API answers cps get from the stage stores, to a caller STS vouched for', async () => {
    const out = (await invoke(
      'control',
      { op: 'pacing.get', proof: await proof() },
      { BUNDLE_TEST_ROUTES: JSON.stringify({ 'sts.eu-west-1.amazonaws.com': stsUrl }) },
    )) as { ok: boolean; caller: string; result: { limit: { limit: number } } }
    expect(out).toEqual(expect.objectContaining({ ok: true, caller: ONCALL.arn }))
    expect(out.result.limit.limit).toBeGreaterThan(0)
  })

  it('control: contacts import stores the callee zones from the data file the bundle carries', async () => {
    await insertCampaign(db.pool, 'bundle-z')
    const out = (await invoke(
      'control',
      {
        op: 'contacts.import',
        args: ['bundle-z', [{ line: 2, id: 'hnl', phoneNumber: '+18085550123', metadata: {} }]],
        proof: await proof(),
      },
      { BUNDLE_TEST_ROUTES: JSON.stringify({ 'sts.eu-west-1.amazonaws.com': stsUrl }) },
    )) as { ok: boolean }
    expect(out).toEqual(expect.objectContaining({ ok: true }))
    const { rows } = await db.pool.query(
      `SELECT number_timezones FROM contacts WHERE campaign_id = 'bundle-z' AND id = 'hnl'`,
    )
    expect(rows).toEqual([{ number_timezones: ['Pacific/Honolulu'] }])
  })
})

describe('metric registry: what is read or alarmed on is what the bundles emit', () => {
  const key = (m: EmittedMetric) => `${m.namespace} ${m.name} ${JSON.stringify(m.dimensions)}`

  it('every custom metric stacks/monitoring.ts alarms on or charts is emitted, same namespace and dimensions', async () => {
    const { customMetric, MetricName } = await import('../../src/observability/metrics.js')
    const monitoring = readFileSync(path.resolve(import.meta.dirname, '../../stacks/monitoring.ts'), 'utf8')
    const used = [...new Set([...monitoring.matchAll(/MetricName\.(\w+)/g)].map((m) => m[1]!))].sort()
    expect(used).toEqual(['CpsLimit', 'CurrentCPS', 'DialedTasks', 'RateLimitedTasks', 'RedisDegradedMode'])
    const seen = new Set(emitted.map(key))
    for (const name of used) {
      const m = customMetric('bundle', MetricName[name as keyof typeof MetricName])
      expect(seen, name).toContain(key({ namespace: m.namespace, name: m.name, dimensions: m.dimensions }))
    }
  })

  it("the CLI's degraded read asks CloudWatch for exactly an emitted metric", async () => {
    const { CloudWatchClient, GetMetricDataCommand } = await import('@aws-sdk/client-cloudwatch')
    const { mockClient } = await import('aws-sdk-client-mock')
    const { dialerDegraded } = await import('../../src/control/aws-cloudwatch.js')
    const cw = mockClient(CloudWatchClient)
    try {
      cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] })
      await dialerDegraded(new CloudWatchClient({ region: 'eu-west-1' }), 'bundle', new Date())
      const stat = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries![0]!.MetricStat!
      const read = {
        namespace: stat.Metric!.Namespace!,
        name: stat.Metric!.MetricName!,
        dimensions: Object.fromEntries(stat.Metric!.Dimensions!.map((d) => [d.Name!, d.Value!])),
      }
      expect(new Set(emitted.map(key))).toContain(key(read))
    } finally {
      cw.restore()
    }
  })

  it('the dialer publishes the live limit it applied (CpsLimit), so CpsNearLimit compares with it', () => {
    expect(emitted.filter((m) => m.name === 'CpsLimit')).toEqual([
      { namespace: 'Dialctl/bundle', name: 'CpsLimit', dimensions: { service: 'dialer-worker' } },
    ])
  })
})
