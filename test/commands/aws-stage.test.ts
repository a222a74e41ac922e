import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { DescribePipeCommand, PipesClient, StopPipeCommand, type PipeState } from '@aws-sdk/client-pipes'
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { AuditEntry } from '../../src/control/port.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, REDIS_URL, type TestRedis } from '../helpers/redis.js'
import { dialctl, jsonOf } from './helpers.js'

/** The outputs `sst deploy --stage prod` writes, as src/control/stage-outputs.ts reads them. */
const outputs = {
  stage: 'prod',
  pipeName: 'prod-dial-tasks-pipe',
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dial-tasks',
  queueArn: 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dial-tasks-dlq',
  dlqArn: 'arn:aws:sqs:eu-west-1:123456789012:prod-dial-tasks-dlq',
  dialerFunctionName: 'prod-dialer-worker',
  enrichFunctionName: 'prod-enrich-dial-task',
  pacerFunctionName: 'prod-pacer',
  stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:prod-dispatch',
  redisHost: 'redis.prod.internal',
  redisPort: 6379,
  postgresHost: 'db.prod.internal',
  postgresPort: 5432,
  postgresDatabase: 'dialer',
  workerUrl: 'http://10.0.1.10:8787',
  metricNamespace: 'Dialctl',
  alarmPrefix: 'dialctl-prod-',
}

const sqs = mockClient(SQSClient)
const pipes = mockClient(PipesClient)
const lambda = mockClient(LambdaClient)
const cloudwatch = mockClient(CloudWatchClient)

let db: TestDb
let redis: TestRedis
const saved = { ...process.env }

beforeAll(async () => {
  db = await createTestDb('cmdaws')
  redis = await createTestRedis('cmdaws')
  const dir = mkdtempSync(join(tmpdir(), 'dialctl-aws-'))
  writeFileSync(join(dir, 'outputs.json'), JSON.stringify(outputs))
  Object.assign(process.env, {
    // the stage's stores: reached through a tunnel in real life, the local servers here
    ...db.env,
    REDIS_URL,
    DIALCTL_REDIS_PREFIX: redis.prefix,
    DIALCTL_OUTPUTS_FILE: join(dir, 'outputs.json'),
    DIALCTL_STAGE: 'prod',
    DIALCTL_ACTOR: 'oncall',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    NO_COLOR: '1',
  })
})
afterAll(async () => {
  process.env = saved
  sqs.restore()
  pipes.restore()
  lambda.restore()
  cloudwatch.restore()
  await redis.cleanup()
  await db.drop()
})
beforeEach(() => {
  sqs.reset()
  pipes.reset()
  lambda.reset()
  cloudwatch.reset()
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] })
})

describe('commands against an AWS stage (SDK mocked, stores real)', () => {
  it('cps set: the live limit in the stage Redis, audited; no Lambda configuration is touched', async () => {
    const run = await dialctl(['cps', 'set', '60', '--reason', 'trunk upgrade', '--json'])
    expect(run.exitCode).toBe(0)
    const out = z.object({ stage: z.literal('prod'), change: AuditEntry }).parse(jsonOf(run))
    expect(out.change).toMatchObject({ newLimit: 60, actor: 'oncall', reason: 'trunk upgrade' })
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBe('60')
    expect(lambda.calls()).toEqual([])
  })

  it('pipe stop --wait: StopPipe with the stage pipe name, then polls until STOPPED', async () => {
    pipes.on(StopPipeCommand).resolves({})
    const described = (state: PipeState) => ({
      Name: 'prod-dial-tasks-pipe',
      CurrentState: state,
      DesiredState: 'STOPPED' as const,
      Source: outputs.queueArn,
      Target: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-dialer-worker',
    })
    pipes
      .on(DescribePipeCommand)
      .resolvesOnce(described('STOPPING'))
      .resolvesOnce(described('STOPPING'))
      .resolves(described('STOPPED'))
    const run = await dialctl(['pipe', 'stop', '--wait', '--json'])
    expect(run.exitCode).toBe(0)
    expect(pipes.commandCalls(StopPipeCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'prod-dial-tasks-pipe' },
    ])
    expect(jsonOf(run)).toMatchObject({ stage: 'prod', pipe: { state: 'STOPPED' }, waited: true })
  }, 20_000)

  it('pipe status exits 3 when the pipe failed, showing its StateReason', async () => {
    pipes.on(DescribePipeCommand).resolves({
      Name: 'prod-dial-tasks-pipe',
      CurrentState: 'START_FAILED',
      DesiredState: 'RUNNING',
      StateReason: 'AccessDenied: sqs:ReceiveMessage',
      Source: outputs.queueArn,
      Target: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-dialer-worker',
    })
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    })
    const run = await dialctl(['pipe', 'status'])
    expect(run.exitCode).toBe(3)
    expect(run.stdout).toContain('START_FAILED')
    expect(run.stdout).toContain('AccessDenied: sqs:ReceiveMessage')
  })

  it('dlq redrive: StartMessageMoveTask from the DLQ ARN to the queue ARN; --wait follows ListMessageMoveTasks', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '8', ApproximateNumberOfMessagesNotVisible: '0' },
    })
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'th-1' })
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({
        Results: [
          { Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 8 },
        ],
      })
      .resolves({
        Results: [
          { Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 8, ApproximateNumberOfMessagesToMove: 8 },
        ],
      })
    const run = await dialctl(['dlq', 'redrive', '--max-per-second', '5', '--wait', '--json'])
    expect(run.exitCode).toBe(0)
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([
      { SourceArn: outputs.dlqArn, DestinationArn: outputs.queueArn, MaxNumberOfMessagesPerSecond: 5 },
    ])
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]!.args[0].input).toEqual({
      SourceArn: outputs.dlqArn,
      MaxResults: 1,
    })
    expect(jsonOf(run)).toMatchObject({ redrive: { status: 'COMPLETED', moved: 8, toMove: 8 } })
  }, 20_000)

  it('status: alarms in ALARM (DescribeAlarms StateValue ALARM) make it exit 3', async () => {
    pipes.on(DescribePipeCommand).resolves({
      Name: 'prod-dial-tasks-pipe',
      CurrentState: 'RUNNING',
      DesiredState: 'RUNNING',
      Source: outputs.queueArn,
      Target: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-dialer-worker',
    })
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    })
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: 'dialctl-prod-rate-limited', StateValue: 'ALARM', StateReason: '31% > 20%' },
      ],
    })
    const run = await dialctl(['status', '--json'])
    expect(run.exitCode).toBe(3)
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input).toEqual({
      StateValue: 'ALARM',
      AlarmNamePrefix: 'dialctl-prod-',
    })
    expect(jsonOf(run)).toMatchObject({
      stage: 'prod',
      healthy: false,
      alarms: [{ name: 'dialctl-prod-rate-limited' }],
    })
  })

  it('a stage whose outputs file belongs to another stage is refused with the fix', async () => {
    const run = await dialctl(['cps', 'get', '--stage', 'staging'])
    expect(run.exitCode).toBe(1)
    expect(run.stderr).toContain('not "staging"')
    // Changed by issue #13: the fix names the override and SSM, never a deploy.
    expect(run.stderr).toContain('DIALCTL_OUTPUTS_FILE')
    expect(run.stderr).not.toMatch(/sst deploy/)
  })
})
