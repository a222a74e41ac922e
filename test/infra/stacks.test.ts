import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ACCOUNT,
  loadProgram,
  platformInstalled,
  REGION,
  SKIP_REASON,
  unsecret,
  type LoadedProgram,
  type RecordedResource,
} from './harness.js'
import { StageOutputs } from '../../src/control/stage-outputs.js'
import {
  ALARM,
  BATCH_SIZE,
  BATCH_WINDOW_SECONDS,
  DEFAULT_MAX_CPS,
  DIAL_HTTP_TIMEOUT_SECONDS,
  DIALER_TIMEOUT_SECONDS,
  ENRICH_TIMEOUT_SECONDS,
  RTP_PORT_RANGE,
  SIP_PORT,
  UPLOAD_PREFIX,
  VISIBILITY_TIMEOUT_SECONDS,
  XRAY_DAEMON_IMAGE,
  XRAY_DAEMON_PORT,
} from '../../stacks/settings.js'
import { UPLOAD_PREFIX as API_UPLOAD_PREFIX } from '../../src/control/control-ops.js'
import { STALL_ADMIT_SHARE } from '../../src/control/verdicts.js'

if (!platformInstalled) console.warn(SKIP_REASON)

interface Statement {
  Sid?: string
  Effect: string
  Action: string[]
  Resource: string[]
}
const statementsOf = (policy: unknown): Statement[] =>
  (JSON.parse(unsecret<string>(policy)) as { Statement: Statement[] }).Statement

const fnArn = (name: unknown) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${String(name)}`

describe.skipIf(!platformInstalled)('SST stacks under Pulumi mocks', () => {
  let p: LoadedProgram
  let o: Record<string, unknown>
  const lambdaByName = (outputKey: string): RecordedResource => {
    const found = p.ofType('aws:lambda/function:Function').filter((f) => f.state.name === o[outputKey])
    expect(found).toHaveLength(1)
    return found[0]!
  }
  const env = (outputKey: string) =>
    (lambdaByName(outputKey).inputs.environment as { variables: Record<string, unknown> }).variables

  beforeAll(async () => {
    p = await loadProgram({ env: { SIP_TRUNK_CIDRS: '203.0.113.0/24, 198.51.100.7/32' } })
    o = p.outputs
  }, 180_000)
  afterAll(() => p?.close())

  describe('outputs dialctl reads', () => {
    it('has every key, resolved to concrete values', () => {
      for (const key of [
        'pipeName',
        'queueUrl',
        'queueArn',
        'dlqUrl',
        'dlqArn',
        'dialerFunctionName',
        'enrichFunctionName',
        'pacerFunctionName',
        'controlFunctionName',
        'stateMachineArn',
        'redisHost',
        'redisPort',
        'postgresHost',
        'postgresDatabase',
        'workerUrl',
        'metricNamespace',
      ])
        expect(o[key], key).toBeTruthy()
      expect(o.metricNamespace).toBe('Dialctl/test')
      // the loader dialctl uses accepts exactly what the stacks export
      expect(StageOutputs.parse(o).stage).toBe('test')
      expect(o.queueArn).not.toBe(o.dlqArn)
      expect(String(o.workerUrl)).toMatch(/^http:\/\/.+:8080$/)
    })
  })

  describe('queue', () => {
    // Changed by issue #13: AWS advises maxReceiveCount ≥ 5 for a Lambda-polled queue.
    it('dial-tasks redrives to the DLQ after 5 receives', () => {
      const queue = p.ofType('aws:sqs/queue:Queue').find((q) => q.state.arn === o.queueArn)!
      const redrive = JSON.parse(String(queue.inputs.redrivePolicy)) as Record<string, unknown>
      expect(redrive).toEqual({ deadLetterTargetArn: o.dlqArn, maxReceiveCount: 5 })
    })

    it('hides a message longer than a whole pipe execution can take', () => {
      const queue = p.ofType('aws:sqs/queue:Queue').find((q) => q.state.arn === o.queueArn)!
      expect(queue.inputs.visibilityTimeoutSeconds).toBe(VISIBILITY_TIMEOUT_SECONDS)
      expect(VISIBILITY_TIMEOUT_SECONDS).toBeGreaterThan(DIAL_HTTP_TIMEOUT_SECONDS * BATCH_SIZE)
      expect(VISIBILITY_TIMEOUT_SECONDS).toBeGreaterThan(
        BATCH_WINDOW_SECONDS + ENRICH_TIMEOUT_SECONDS + DIALER_TIMEOUT_SECONDS,
      )
    })
  })

  describe('pipe', () => {
    const pipe = () => p.find('aws:pipes/pipe:Pipe', 'DialTasksPipe')

    it('polls the queue in batches of 10 or 5 s with the phoneNumber filter', () => {
      const { inputs } = pipe()
      expect(inputs.name).toBe(o.pipeName)
      expect(inputs.source).toBe(o.queueArn)
      const source = inputs.sourceParameters as {
        sqsQueueParameters: { batchSize: number; maximumBatchingWindowInSeconds: number }
        filterCriteria: { filters: Array<{ pattern: string }> }
      }
      expect(source.sqsQueueParameters).toEqual({ batchSize: 10, maximumBatchingWindowInSeconds: 5 })
      // Pipes filters SQS records, whose JSON body is under "body"; the second pattern lets a
      // non-JSON body through to enrich, which records its outcome (issue #13).
      expect(source.filterCriteria.filters.map((f) => JSON.parse(f.pattern))).toEqual([
        { body: { phoneNumber: [{ exists: true }] } },
        { body: [{ 'anything-but': '' }] },
      ])
    })

    it('is created RUNNING and a deploy never resets what `dialctl pipe stop` set', () => {
      expect(pipe().inputs.desiredState).toBe('RUNNING')
    })

    it('enriches with the enrich Lambda and targets the dialer synchronously (partial batch failures)', () => {
      const { inputs } = pipe()
      expect(inputs.enrichment).toBe(fnArn(o.enrichFunctionName))
      expect(inputs.target).toBe(fnArn(o.dialerFunctionName))
      expect(inputs.targetParameters).toEqual({
        lambdaFunctionParameters: { invocationType: 'REQUEST_RESPONSE' },
      })
    })

    it('logs errors to its own log group without payloads (phone numbers)', () => {
      const log = p.find('aws:cloudwatch/logGroup:LogGroup', 'DialTasksPipeLogs')
      const config = pipe().inputs.logConfiguration as Record<string, unknown>
      expect(config.level).toBe('ERROR')
      expect(config.cloudwatchLogsLogDestination).toEqual({ logGroupArn: log.state.arn })
      expect(config.includeExecutionDatas).toBeUndefined()
    })

    it('runs as a role allowed exactly the queue, the two functions and its log group', () => {
      const role = p.find('aws:iam/role:Role', 'DialTasksPipeRole')
      expect(pipe().inputs.roleArn).toBe(role.state.arn)
      expect(JSON.stringify(role.inputs.assumeRolePolicy)).toContain('pipes.amazonaws.com')

      const policy = p.find('aws:iam/rolePolicy:RolePolicy', 'DialTasksPipePolicy')
      expect(policy.inputs.role).toBe(role.state.id ?? 'DialTasksPipeRole-id')
      const log = p.find('aws:cloudwatch/logGroup:LogGroup', 'DialTasksPipeLogs')
      const byAction = Object.fromEntries(
        statementsOf(policy.inputs.policy).flatMap((s) =>
          s.Action.map((a) => [a, s.Resource.slice().sort()]),
        ),
      )
      expect(byAction).toEqual({
        'sqs:ReceiveMessage': [o.queueArn],
        'sqs:DeleteMessage': [o.queueArn],
        'sqs:GetQueueAttributes': [o.queueArn],
        'lambda:InvokeFunction': [fnArn(o.dialerFunctionName), fnArn(o.enrichFunctionName)].sort(),
        'logs:CreateLogStream': [`${String(log.state.arn)}:*`],
        'logs:PutLogEvents': [`${String(log.state.arn)}:*`],
      })
      for (const s of statementsOf(policy.inputs.policy)) expect(s.Effect).toBe('Allow')
    })
  })

  describe('functions', () => {
    const keys = ['enrichFunctionName', 'dialerFunctionName', 'pacerFunctionName'] as const

    it('all run in the VPC with X-Ray tracing, pg external, and the stage metric namespace', () => {
      const all = p.ofType('aws:lambda/function:Function')
      expect(all.length).toBeGreaterThanOrEqual(4)
      for (const key of keys) {
        const fn = lambdaByName(key)
        expect(fn.inputs.tracingConfig, key).toEqual({ mode: 'Active' })
        const vpc = fn.inputs.vpcConfig as { subnetIds: string[]; securityGroupIds: string[] }
        expect(
          vpc.subnetIds.every((s) => s.includes('PrivateSubnet')),
          key,
        ).toBe(true)
        expect(env(key).POWERTOOLS_METRICS_NAMESPACE).toBe('Dialctl/test')
      }
    })

    it('dialer: MAX_CPS default, worker URL, no secret or store URL in its env, timeout for a full batch', () => {
      const e = env('dialerFunctionName')
      expect(e.MAX_CPS).toBe(String(DEFAULT_MAX_CPS))
      expect(e.WORKER_URL).toBe(o.workerUrl)
      expect(e.WORKER_TIMEOUT_MS).toBe(String(DIAL_HTTP_TIMEOUT_SECONDS * 1000))
      // Changed by issue #13: token and Redis credentials come through the links only.
      expect(e.WORKER_TOKEN).toBeUndefined()
      expect(e.REDIS_URL).toBeUndefined()
      expect(JSON.stringify(e)).not.toContain('mock-password')
      expect(e.POWERTOOLS_SERVICE_NAME).toBe('dialer-worker')
      expect(lambdaByName('dialerFunctionName').inputs.timeout).toBe(DIALER_TIMEOUT_SECONDS)
    })

    it.each([
      ['EnrichDialTask', 'functions/enrich-dial-task.handler', ['Postgres']],
      ['DialerWorker', 'functions/dialer-worker.handler', ['Postgres', 'Redis', 'Worker', 'WorkerToken']],
      ['Dispatcher', 'functions/dispatcher.handler', ['Postgres', 'Redis']],
      ['Pacer', 'functions/pacer.handler', ['Postgres', 'Redis']],
      ['Control', 'functions/control.handler', ['Postgres', 'Redis']],
    ])('%s bundles %s with pg external, linked to %j', (id, handler, links) => {
      const build = p.builds.get(id)!
      expect(build.handler).toBe(handler)
      // SST turns `install: ['pg']` into `{ pg: '*' }`: installed next to the bundle, not bundled.
      expect(build.properties.install).toEqual({ pg: '*' })
      expect(Object.keys(build.links).sort()).toEqual(links)
    })

    it('the dialer reads the worker token and Redis through `Resource`', () => {
      const links = p.builds.get('DialerWorker')!.links
      expect(links.WorkerToken).toMatchObject({ value: 'test-worker-token' })
      expect(links.Redis).toMatchObject({ host: o.redisHost, port: o.redisPort, password: 'mock-password' })
    })

    it('enrich reads PostgreSQL through its link only; dispatcher may only send to the dial-tasks queue', () => {
      expect(env('enrichFunctionName').DATABASE_URL).toBeUndefined()
      expect(p.builds.get('EnrichDialTask')!.links.Postgres).toMatchObject({ host: o.postgresHost })
      const role = p.ofType('aws:iam/role:Role').find((r) => r.name === 'DispatcherRole')!
      const inline = role.inputs.inlinePolicies as Array<{ policy: string }>
      expect(inline).toHaveLength(1)
      const sqs = statementsOf(inline[0]!.policy).filter((s) => s.Action.some((a) => a.startsWith('sqs:')))
      expect(sqs).toEqual([
        { Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:SendMessageBatch'], Resource: [o.queueArn] },
      ])
    })

    it('the pacer reads the worker service CPU (cluster/service names) and writes the limit to Redis', () => {
      const e = env('pacerFunctionName')
      expect(e.WORKER_CLUSTER_NAME).toBe(o.workerClusterName)
      expect(e.WORKER_SERVICE_NAME).toBe(o.workerServiceName)
      expect(e.REDIS_URL).toBeUndefined()
    })

    it('the pacer runs every minute', () => {
      const rule = p.find('aws:cloudwatch/eventRule:EventRule', 'PacerScheduleRule')
      expect(rule.inputs.scheduleExpression).toBe('rate(1 minute)')
      const target = p.find('aws:cloudwatch/eventTarget:EventTarget', 'PacerScheduleTarget')
      expect(target.inputs.arn).toBe(fnArn(o.pacerFunctionName))
    })
  })

  describe('control function and stage discovery', () => {
    it('the control function runs in the VPC and may call no AWS API beyond logs, traces and reading uploads', () => {
      const fn = lambdaByName('controlFunctionName')
      const vpc = fn.inputs.vpcConfig as { subnetIds: string[] }
      expect(vpc.subnetIds.every((sub) => sub.includes('PrivateSubnet'))).toBe(true)
      expect(fn.inputs.tracingConfig).toEqual({ mode: 'Active' })
      const role = p.ofType('aws:iam/role:Role').find((r) => r.name === 'ControlRole')!
      const statements = (
        (role.inputs.inlinePolicies as Array<{ policy: string }> | undefined) ?? []
      ).flatMap((ip) => statementsOf(ip.policy))
      const others = statements.filter((st) =>
        st.Action.some((a) => !/^(xray|logs|ssm|secretsmanager|kms):/.test(a)),
      )
      // S3: GetObject on the upload prefix only — not the bucket, not another prefix, no list or write
      const bucket = p.find('aws:s3/bucket:Bucket', 'ContactUploads')
      expect(others.map((st) => ({ Action: st.Action, Resource: st.Resource }))).toEqual([
        { Action: ['s3:GetObject'], Resource: [`${String(bucket.state.arn)}/contacts-uploads/*`] },
      ])
      expect(env('controlFunctionName').UPLOAD_BUCKET).toBe(o.uploadBucketName)
      // No function URL, no API: lambda:Invoke with IAM is the only way in.
      expect(p.ofType('aws:lambda/functionUrl:FunctionUrl')).toEqual([])
    })

    it('the upload bucket is private, encrypted, TLS-only and forgets uploads after a day', () => {
      const bucket = p.find('aws:s3/bucket:Bucket', 'ContactUploads')
      expect(o.uploadBucketName).toBe('dialctl-test-uploads-mock')
      expect(bucket.state.bucket).toBe(o.uploadBucketName)
      const id = `${bucket.name}-id`
      const block = p.find(
        'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock',
        'ContactUploadsPublicAccess',
      )
      expect(block.inputs).toMatchObject({
        bucket: id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      })
      const sse = p.find(
        'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
        'ContactUploadsEncryption',
      )
      expect(sse.inputs.rules).toEqual([
        { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true },
      ])
      const lifecycle = p.find(
        'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
        'ContactUploadsLifecycle',
      )
      expect(lifecycle.inputs.rules).toEqual([
        expect.objectContaining({
          status: 'Enabled',
          filter: { prefix: UPLOAD_PREFIX },
          expiration: { days: 1 },
        }),
      ])
      const policy = JSON.parse(
        String(p.find('aws:s3/bucketPolicy:BucketPolicy', 'ContactUploadsPolicy').inputs.policy),
      )
      expect(policy.Statement).toEqual([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ])
      // the CLI writes and the function reads under the same prefix
      expect(UPLOAD_PREFIX).toBe(API_UPLOAD_PREFIX)
    })

    it('S3 is reached from the private subnets through a gateway endpoint on their route tables', () => {
      const endpoint = p.find('aws:ec2/vpcEndpoint:VpcEndpoint', 'S3GatewayEndpoint')
      expect(endpoint.inputs).toMatchObject({
        vpcEndpointType: 'Gateway',
        serviceName: `com.amazonaws.${REGION}.s3`,
      })
      expect([...(endpoint.inputs.routeTableIds as string[])].sort()).toEqual([
        'VpcPrivateRouteTable1-id',
        'VpcPrivateRouteTable2-id',
      ])
    })

    it('the control function reaches STS (caller proofs) through a NAT instance from each of its subnets', () => {
      const fn = lambdaByName('controlFunctionName')
      const subnets = (fn.inputs.vpcConfig as { subnetIds: string[] }).subnetIds
      const nats = p.ofType('aws:ec2/instance:Instance').filter((i) => i.name.startsWith('VpcNatInstance'))
      expect(nats.length).toBeGreaterThan(0)
      for (const nat of nats) expect(nat.inputs.sourceDestCheck).toBe(false)
      const natEnis = new Set(nats.map((n) => n.state.primaryNetworkInterfaceId))
      const associations = p.ofType('aws:ec2/routeTableAssociation:RouteTableAssociation')
      for (const subnet of subnets) {
        const tableId = associations.find((a) => a.inputs.subnetId === subnet)?.inputs.routeTableId
        const table = p.ofType('aws:ec2/routeTable:RouteTable').find((t) => `${t.name}-id` === tableId)
        const routes = (table?.inputs.routes ?? []) as { cidrBlock: string; networkInterfaceId?: string }[]
        const defaultRoute = routes.find((r) => r.cidrBlock === '0.0.0.0/0')
        expect(natEnis, `subnet ${subnet}`).toContain(defaultRoute?.networkInterfaceId)
      }
    })

    it('publishes the outputs to SSM /dialctl/<stage>/outputs, readable by the loader dialctl uses', () => {
      const param = p.find('aws:ssm/parameter:Parameter', 'StageOutputsParameter')
      expect(param.inputs.name).toBe('/dialctl/test/outputs')
      expect(param.inputs.type).toBe('String')
      const published = StageOutputs.parse(JSON.parse(String(unsecret(param.inputs.value))))
      expect(published.controlFunctionName).toBe(o.controlFunctionName)
      expect(JSON.stringify(published)).not.toContain('mock-password')
    })
  })

  describe('campaign state machine', () => {
    it('invokes the dispatcher and may restart only itself', () => {
      const sm = p.find('aws:sfn/stateMachine:StateMachine', 'CampaignExecution')
      expect(sm.state.arn).toBe(o.stateMachineArn)
      const def = JSON.parse(String(sm.inputs.definition)) as {
        States: Record<string, { Parameters?: { FunctionName?: string } }>
      }
      const policy = p.find('aws:iam/rolePolicy:RolePolicy', 'CampaignExecutionPolicy')
      const byAction = Object.fromEntries(
        statementsOf(policy.inputs.policy).flatMap((s) => s.Action.map((a) => [a, s.Resource])),
      )
      const dispatcher = p
        .ofType('aws:lambda/function:Function')
        .find((f) => f.name === 'DispatcherFunction')!
      expect(def.States.Dispatch!.Parameters!.FunctionName).toBe(dispatcher.state.arn)
      expect(byAction['lambda:InvokeFunction']).toEqual([
        dispatcher.state.arn,
        `${String(dispatcher.state.arn)}:*`,
      ])
      expect(byAction['states:StartExecution']).toEqual([o.stateMachineArn])
    })
  })

  describe('worker', () => {
    const containers = () =>
      JSON.parse(
        unsecret<string>(
          p.find('aws:ecs/taskDefinition:TaskDefinition', 'WorkerTask').inputs.containerDefinitions,
        ),
      ) as Array<{
        name: string
        environment: Array<{ name: string; value: string }>
        secrets?: Array<{ name: string; valueFrom: string }>
      }>
    const secretsOf = (name: string) =>
      Object.fromEntries(
        (containers().find((c) => c.name === name)!.secrets ?? []).map((e) => [e.name, e.valueFrom]),
      )
    const envOf = (name: string) =>
      Object.fromEntries(
        containers()
          .find((c) => c.name === name)!
          .environment.map((e) => [e.name, e.value]),
      )

    it('runs the Node worker and Asterisk in one task, ARI on localhost, secrets from SSM (never in the task definition)', () => {
      expect(containers().map((c) => c.name)).toEqual(['worker', 'asterisk', 'xray-daemon'])
      const w = envOf('worker')
      expect(w).toMatchObject({ PORT: '8080', DRIVER: 'ari', ARI_URL: 'http://127.0.0.1:8088' })
      expect(envOf('asterisk')).toMatchObject({ SIP_TRUNK_USER: 'trunk-user' })
      // Changed by issue #13: no secret in plain container environment.
      const all = JSON.stringify(containers().map((c) => c.environment))
      for (const secret of ['test-worker-token', 'test-ari-password', 'mock-password'])
        expect(all).not.toContain(secret)
      expect(Object.keys(secretsOf('worker')).sort()).toEqual(['ARI_PASSWORD', 'PGPASSWORD', 'WORKER_TOKEN'])
      expect(Object.keys(secretsOf('asterisk')).sort()).toEqual(['ARI_PASSWORD', 'SIP_TRUNK_PASSWORD'])
    })

    it('exports its spans through an X-Ray daemon sidecar the task role may write to (issue #19)', () => {
      const daemon = containers().find((c) => c.name === 'xray-daemon') as { image?: string } | undefined
      expect(daemon?.image).toBe(XRAY_DAEMON_IMAGE)
      expect(envOf('worker').AWS_XRAY_DAEMON_ADDRESS).toBe(`127.0.0.1:${XRAY_DAEMON_PORT}`)
      const task = p.find('aws:ecs/taskDefinition:TaskDefinition', 'WorkerTask')
      const policies = p
        .ofType('aws:iam/role:Role')
        .filter((r) => r.state.arn === task.inputs.taskRoleArn || r.state.name === task.inputs.taskRoleArn)
        .flatMap((r) => (r.inputs.inlinePolicies as { policy: string }[] | undefined) ?? [])
        .map((ip) => JSON.parse(unsecret<string>(ip.policy)) as { Statement: { Action: string[] }[] })
      const actions = policies.flatMap((doc) => doc.Statement.flatMap((st) => st.Action))
      expect(actions).toEqual(expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']))
    })

    it('opens SIP and RTP only to the trunk CIDRs, on top of the VPC group', () => {
      const sg = p.find('aws:ec2/securityGroup:SecurityGroup', 'WorkerSipSecurityGroup')
      const cidrs = ['203.0.113.0/24', '198.51.100.7/32']
      expect(sg.inputs.ingress).toEqual([
        expect.objectContaining({ protocol: 'udp', fromPort: SIP_PORT, toPort: SIP_PORT, cidrBlocks: cidrs }),
        expect.objectContaining({ protocol: 'tcp', fromPort: SIP_PORT, toPort: SIP_PORT, cidrBlocks: cidrs }),
        expect.objectContaining({
          protocol: 'udp',
          fromPort: RTP_PORT_RANGE.from,
          toPort: RTP_PORT_RANGE.to,
          cidrBlocks: cidrs,
        }),
      ])
      const service = p.find('aws:ecs/service:Service', 'WorkerService')
      const network = service.inputs.networkConfiguration as { securityGroups: string[] }
      expect(network.securityGroups).toContain(sg.state.id ?? 'WorkerSipSecurityGroup-id')
      expect(network.securityGroups.length).toBe(2)
    })
  })

  describe('alarms', () => {
    const alarm = (key: string) => p.find('aws:cloudwatch/metricAlarm:MetricAlarm', `Alarm${key}`).inputs
    type Q = {
      id: string
      expression?: string
      returnData?: boolean
      metric?: { namespace: string; metricName: string; dimensions: Record<string, string>; stat: string }
    }
    const queries = (key: string) => alarm(key).metricQueries as Q[]
    const topic = () => p.find('aws:sns/topic:Topic', 'AlertsTopic').state.arn

    it.each([
      ['PipeFailedPercent', ALARM.pipeFailedPercent, 5],
      ['PipeThrottled', ALARM.pipeThrottledCount, 10],
      ['EnrichErrorPercent', ALARM.enrichErrorPercent, 5],
      ['DialerErrorPercent', ALARM.dialerErrorPercent, 5],
      ['CpsNearLimit', ALARM.cpsOfLimitPercent, 90],
      ['RateLimitedPercent', ALARM.rateLimitedPercent, 20],
      ['RedisDegraded', ALARM.redisDegradedCount, 0],
    ])('%s alarms above %d (seed: %d) and notifies on-call unless a warning', (key, threshold, seed) => {
      expect(threshold).toBe(seed)
      const a = alarm(key)
      expect(a.threshold).toBe(seed)
      expect(a.comparisonOperator).toBe('GreaterThanThreshold')
      expect(a.name).toBe(`dialctl-test-${key}`)
      expect(a.alarmActions).toEqual(key === 'CpsNearLimit' ? [] : [topic()])
      expect(queries(key).filter((q) => q.returnData)).toHaveLength(1)
    })

    it('pipe failure rate is failed/invocations of this pipe', () => {
      const q = queries('PipeFailedPercent')
      expect(q.find((x) => x.id === 'failed')!.metric).toMatchObject({
        namespace: 'AWS/EventBridge/Pipes',
        metricName: 'ExecutionFailed',
        dimensions: { PipeName: o.pipeName },
        stat: 'Sum',
      })
      expect(q.find((x) => x.id === 'invocations')!.metric!.metricName).toBe('Invocations')
      expect(q.find((x) => x.returnData)!.expression).toBe(
        'IF(invocations > 0, 100 * failed / invocations, 0)',
      )
    })

    it('error rates watch the right functions', () => {
      expect(queries('EnrichErrorPercent')[0]!.metric!.dimensions).toEqual({
        FunctionName: o.enrichFunctionName,
      })
      expect(queries('DialerErrorPercent')[0]!.metric!.dimensions).toEqual({
        FunctionName: o.dialerFunctionName,
      })
    })

    it('custom metrics come from the dialer in the stage namespace', () => {
      for (const key of ['CpsNearLimit', 'RateLimitedPercent', 'RedisDegraded']) {
        for (const q of queries(key).filter((x) => x.metric))
          expect(q.metric, key).toMatchObject({
            namespace: 'Dialctl/test',
            dimensions: { service: 'dialer-worker' },
          })
      }
      expect(queries('CpsNearLimit').find((x) => x.returnData)!.expression).toBe(
        `100 * cps / FILL(limit, ${DEFAULT_MAX_CPS})`,
      )
      expect(alarm('RedisDegraded').evaluationPeriods).toBe(1)
    })

    it('rate limiting alarms only while stalled, never for a backlog paced at the limit (docs/health.md)', () => {
      expect(ALARM.stallAdmitShare).toBe(STALL_ADMIT_SHARE)
      const q = queries('RateLimitedPercent')
      expect(q.find((x) => x.id === 'limit')!.metric!.metricName).toBe('CpsLimit')
      expect(q.find((x) => x.returnData)!.expression).toBe(
        `IF(limited + dialed > 0 AND dialed / PERIOD(dialed) < 0.5 * FILL(limit, ${DEFAULT_MAX_CPS}), 100 * limited / (limited + dialed), 0)`,
      )
    })

    it('CPS near the limit is a warning: it never pages', () => {
      expect(alarm('CpsNearLimit').alarmActions).toEqual([])
      expect(alarm('CpsNearLimit').okActions).toEqual([])
    })

    it('the dashboard shows every alarm', () => {
      const body = JSON.parse(
        String(p.find('aws:cloudwatch/dashboard:Dashboard', 'Dashboard').inputs.dashboardBody),
      )
      const arns = p.ofType('aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => a.state.arn)
      expect(body.widgets[0].properties.alarms.slice().sort()).toEqual(arns.slice().sort())
    })
  })
})
