import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'

/**
 * Runs the real SST program (sst.config.ts's stacks, SST's own components) under Pulumi's
 * mocks, offline. What `sst deploy` provides and these tests replace:
 *  - the globals SST's esbuild step injects ($app, $cli, $dev, sst, aws, $interpolate …);
 *  - the CLI's RPC server (function bundling "Runtime.Build", "Provider.Aws.Bootstrap"), here a
 *    tiny local HTTP server returning a stub bundle;
 *  - the cloud: every resource is recorded with its inputs, and gets fake ids/ARNs.
 *
 * @pulumi/pulumi and @pulumi/aws come from `.sst/platform/node_modules` (written by
 * `sst install`), never from the project's dependencies.
 */

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const PLATFORM = path.join(ROOT, '.sst/platform')
export const platformInstalled = existsSync(path.join(PLATFORM, 'node_modules/@pulumi/pulumi'))
export const SKIP_REASON =
  'infra tests skipped: .sst/platform is missing — run `SST_NO_BUN=1 SST_SKIP_DEPENDENCY_CHECK=1 npx sst install --stage ci` (or .ci/infra-check.sh) first'

export const ACCOUNT = '123456789012'
export const REGION = 'us-east-1'
export const STAGE = 'test'

export interface RecordedResource {
  type: string
  name: string
  inputs: Record<string, unknown>
  state: Record<string, unknown>
}

// Minimal structural types for the parts of the Pulumi SDK the harness uses.
interface PulumiOutput<T> {
  apply<U>(fn: (value: T) => U): PulumiOutput<U>
}
interface PulumiSdk {
  runtime: {
    setMocks(
      mocks: {
        newResource(args: { type: string; name: string; inputs: Record<string, unknown>; id?: string }): {
          id: string
          state: Record<string, unknown>
        }
        call(args: { token: string; inputs: Record<string, unknown> }): Record<string, unknown>
      },
      project: string,
      stack: string,
      preview: boolean,
    ): Promise<void>
    /** resolves once every registration Pulumi has queued is done (exported, marked internal) */
    waitForRPCs(): Promise<void>
  }
  output: unknown
  interpolate: unknown
  all: unknown
  jsonStringify: unknown
  jsonParse: unknown
  concat: unknown
  Output: { isInstance(value: unknown): boolean }
}

/** Pulumi marks secret values in mocked inputs as `{<secret signature>: …, value}`. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d'
export function unsecret<T = unknown>(value: unknown): T {
  if (value && typeof value === 'object' && SECRET_SIG in value)
    return (value as unknown as { value: T }).value
  return value as T
}

/** Secret wrappers removed at every depth, so assertions compare plain values. */
export function deepUnsecret(value: unknown): unknown {
  const v = unsecret(value)
  if (Array.isArray(v)) return v.map(deepUnsecret)
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepUnsecret(x)]))
  return v
}

/** Waits for a Pulumi output (and everything it nests) to resolve. */
export function resolve<T>(value: PulumiOutput<T> | T): Promise<T> {
  const maybe = value as PulumiOutput<T>
  if (maybe && typeof maybe === 'object' && typeof maybe.apply === 'function')
    return new Promise<T>((done) => maybe.apply((v) => done(v)))
  return Promise.resolve(value as T)
}

/** Resolves every output of an object (one level: what a stack's `outputs` is). */
export async function resolveAll<T extends Record<string, unknown>>(
  obj: T,
): Promise<{ [K in keyof T]: unknown }> {
  const entries = await Promise.all(
    Object.entries(obj).map(async ([k, v]) => [k, await resolve(v as PulumiOutput<unknown>)] as const),
  )
  return Object.fromEntries(entries) as { [K in keyof T]: unknown }
}

function arnFor(type: string, name: string): string {
  // e.g. aws:sqs/queue:Queue → sqs
  const service = type.split(':')[1]?.split('/')[0] ?? 'unknown'
  switch (type) {
    case 'aws:lambda/function:Function':
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`
    case 'aws:sqs/queue:Queue':
      return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`
    case 'aws:sfn/stateMachine:StateMachine':
      return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`
    case 'aws:iam/role:Role':
      return `arn:aws:iam::${ACCOUNT}:role/${name}`
    case 'aws:cloudwatch/logGroup:LogGroup':
      return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}`
    case 'aws:sns/topic:Topic':
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`
    default:
      return `arn:aws:${service}:${REGION}:${ACCOUNT}:${name}`
  }
}

/** What the cloud would add to a resource's inputs once created. */
function stateFor(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const physical = typeof inputs.name === 'string' ? inputs.name : `${name}-mock`
  const state: Record<string, unknown> = { ...inputs, name: physical, arn: arnFor(type, physical) }
  switch (type) {
    case 'aws:sqs/queue:Queue':
      state.url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${physical}`
      break
    case 'aws:lambda/function:Function':
      state.invokeArn = `arn:aws:apigateway:${REGION}:lambda:path/functions/${state.arn}/invocations`
      state.qualifiedArn = `${state.arn}:$LATEST`
      break
    case 'aws:elasticache/replicationGroup:ReplicationGroup':
      state.primaryEndpointAddress = `${physical}.cache.amazonaws.com`
      state.configurationEndpointAddress = `${physical}.cfg.cache.amazonaws.com`
      state.port = inputs.port ?? 6379
      break
    case 'aws:rds/instance:Instance':
      state.address = `${physical}.rds.amazonaws.com`
      state.endpoint = `${physical}.rds.amazonaws.com:5432`
      state.port = 5432
      break
    case 'aws:rds/proxy:Proxy':
      state.endpoint = `${physical}.proxy.rds.amazonaws.com`
      break
    case 'aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace':
      state.hosedZone = 'Z123'
      break
    case 'aws:ecr/repository:Repository':
      state.repositoryUrl = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${physical}`
      break
    case 'aws:s3/bucket:Bucket':
      state.bucket = `${String(inputs.bucketPrefix ?? '')}mock`
      state.arn = `arn:aws:s3:::${String(state.bucket)}`
      break
    case 'aws:ec2/instance:Instance':
      state.primaryNetworkInterfaceId = `eni-${physical}`
      break
    case 'random:index/randomPassword:RandomPassword':
      state.result = 'mock-password'
      break
    case 'docker-build:index:Image':
      state.ref = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/mock@sha256:${'0'.repeat(64)}`
      state.digest = `sha256:${'0'.repeat(64)}`
      break
  }
  return state
}

/** Policy documents SST builds with aws.iam.getPolicyDocument, rendered like IAM would. */
function policyDocument(inputs: Record<string, unknown>): Record<string, unknown> {
  const statements = (inputs.statements as Array<Record<string, unknown>> | undefined) ?? []
  const doc = {
    Version: '2012-10-17',
    Statement: statements.map((s) => ({
      Effect: s.effect === 'Deny' ? 'Deny' : 'Allow',
      Action: s.actions,
      Resource: s.resources,
      ...(s.principals ? { Principal: s.principals } : {}),
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  }
  return { ...inputs, json: JSON.stringify(doc), minifiedJson: JSON.stringify(doc) }
}

function invoke(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`, userId: 'AIDA', id: ACCOUNT }
    case 'aws:index/getRegion:getRegion':
      return { name: REGION, region: REGION, id: REGION, endpoint: `ec2.${REGION}.amazonaws.com` }
    case 'aws:index/getPartition:getPartition':
      return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' }
    case 'aws:index/getAvailabilityZones:getAvailabilityZones':
      return { names: [`${REGION}a`, `${REGION}b`], zoneIds: ['use1-az1', 'use1-az2'], id: REGION }
    case 'aws:iam/getPolicyDocument:getPolicyDocument':
      return policyDocument(inputs)
    case 'aws:ec2/getAmi:getAmi':
      return { id: 'ami-0123456789abcdef0', architecture: 'arm64' }
    default:
      return { id: `${token}-mock`, ...inputs }
  }
}

/** The SST CLI's RPC, just enough for components to "build" and find the bootstrap bucket. */
export interface BuildRequest {
  functionID: string
  handler: string
  /** linked resources by name → the properties `Resource.<name>` exposes at runtime */
  links: Record<string, Record<string, unknown>>
  properties: Record<string, unknown>
}

function startRpcServer(builds: Map<string, BuildRequest>): Promise<Server> {
  const work = mkdtempSync(path.join(tmpdir(), 'dialctl-infra-'))
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const { method, params } = JSON.parse(body) as { method: string; params: unknown[] }
      const args = (params?.[0] ?? {}) as Record<string, unknown>
      let result: unknown = null
      if (method === 'Runtime.Build') {
        builds.set(String(args.functionID), deepUnsecret(args) as BuildRequest)
        const out = path.join(work, String(args.functionID ?? 'fn'))
        mkdirSync(out, { recursive: true })
        writeFileSync(path.join(out, 'index.mjs'), 'export const handler = async () => ({})\n')
        result = { handler: 'index.handler', out, errors: [], sourcemaps: [] }
      } else if (method === 'Provider.Aws.Bootstrap') {
        result = {
          asset: 'sst-asset-mock',
          assetEcrRegistryId: ACCOUNT,
          assetEcrUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/sst-asset`,
          state: 'sst-state-mock',
          appsyncHttp: '',
          appsyncRealtime: '',
        }
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ id: 0, result, error: null }))
    })
  })
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)))
}

export interface LoadedProgram {
  outputs: Record<string, unknown>
  resources: RecordedResource[]
  /** every recorded resource of that Pulumi type */
  ofType(type: string): RecordedResource[]
  /** the one resource of that type whose logical name is `name` (throws otherwise) */
  find(type: string, name: string): RecordedResource
  modules: Record<string, Record<string, unknown>>
  /** what each sst.aws.Function asked the CLI to bundle, by component name */
  builds: Map<string, BuildRequest>
  close(): Promise<void>
}

export interface LoadOptions {
  env?: Record<string, string>
}

/**
 * Sets up mocks and globals, then imports the stacks (import order matters: the program must
 * be evaluated after setMocks). Waits for every output before returning.
 */
export async function loadProgram(options: LoadOptions = {}): Promise<LoadedProgram> {
  const require = createRequire(path.join(PLATFORM, 'package.json'))
  const pulumi = require('@pulumi/pulumi') as PulumiSdk
  const aws = require('@pulumi/aws') as unknown

  const resources: RecordedResource[] = []
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = deepUnsecret(args.inputs) as Record<string, unknown>
        const state = stateFor(args.type, args.name, inputs)
        resources.push({ type: args.type, name: args.name, inputs, state })
        return { id: `${args.name}-id`, state }
      },
      call(args) {
        return invoke(args.token, args.inputs)
      },
    },
    'dialctl',
    STAGE,
    false,
  )

  const builds = new Map<string, BuildRequest>()
  const server = await startRpcServer(builds)
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('rpc server has no port')
  process.env.SST_SERVER = `http://127.0.0.1:${address.port}`
  const env = {
    SST_SECRET_WorkerToken: 'test-worker-token',
    SST_SECRET_AriPassword: 'test-ari-password',
    SST_SECRET_SipTrunkHost: 'sip.carrier.example',
    SST_SECRET_SipTrunkUser: 'trunk-user',
    SST_SECRET_SipTrunkPassword: 'trunk-password',
    ...options.env,
  }
  Object.assign(process.env, env)

  const g = globalThis as Record<string, unknown>
  Object.assign(g, {
    aws,
    $app: {
      name: 'dialctl',
      stage: STAGE,
      removal: 'remove',
      protect: false,
      providers: { aws: { region: REGION } },
    },
    $dev: false,
    $cli: {
      command: 'deploy',
      rpc: process.env.SST_SERVER,
      paths: { home: tmpdir(), root: ROOT, work: path.join(ROOT, '.sst'), platform: PLATFORM },
      home: 'aws',
      state: { version: {} },
    },
    $util: pulumi,
    $output: pulumi.output,
    $interpolate: pulumi.interpolate,
    $resolve: pulumi.all,
    $concat: pulumi.concat,
    $jsonStringify: pulumi.jsonStringify,
    $jsonParse: pulumi.jsonParse,
    $apply: (v: PulumiOutput<unknown>, fn: (x: unknown) => unknown) => v.apply(fn),
    $secrets: {},
  })
  // SST's components read $app/$cli at import time: import them only now.
  const sst = await import(path.join(PLATFORM, 'src/components/index.ts'))
  const { $transform, $asset } = await import(path.join(PLATFORM, 'src/components/component.ts'))
  const { Link } = await import(path.join(PLATFORM, 'src/components/link.ts'))
  Object.assign(g, { sst, $transform, $asset, $linkable: Link.makeLinkable })

  const names = [
    'settings',
    'network',
    'data',
    'queue',
    'secrets',
    'worker',
    'uploads',
    'functions',
    'pipe',
    'dispatcher',
    'monitoring',
  ]
  const modules: Record<string, Record<string, unknown>> = {}
  for (const name of names) modules[name] = await import(path.join(ROOT, 'stacks', `${name}.ts`))
  const { outputs } = (await import(path.join(ROOT, 'stacks/index.ts'))) as {
    outputs: Record<string, unknown>
  }
  const resolved = await resolveAll(outputs)
  // Some resources register inside `apply` callbacks after the outputs above resolved: wait for
  // Pulumi's own queue of registrations to drain (runtime.waitForRPCs, which waits again while new
  // ones join it), and again while a turn of the event loop brought more — a condition, not a time.
  for (let last = -1; resources.length !== last;) {
    last = resources.length
    await pulumi.runtime.waitForRPCs()
    await new Promise((r) => setImmediate(r))
  }

  return {
    outputs: resolved,
    resources,
    modules,
    builds,
    ofType: (type) => resources.filter((r) => r.type === type),
    find(type, name) {
      const found = resources.filter((r) => r.type === type && r.name === name)
      if (found.length !== 1)
        throw new Error(
          `expected one ${type} named ${name}, found ${found.length}: ${resources
            .filter((r) => r.type === type)
            .map((r) => r.name)
            .join(', ')}`,
        )
      return found[0]!
    },
    close: () => new Promise((done) => server.close(() => done())),
  }
}
