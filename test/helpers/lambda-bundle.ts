import { execFile } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'

/**
 * A Lambda artifact built the way SST v3 builds a Node function (sst/platform/src/runtime/node.ts):
 * esbuild, one ESM file, target node20, `nodejs.install` packages external, and SST's banner that
 * gives ESM code a `require`. Laid out as Lambda unpacks it into /var/task: bundle.mjs, a
 * package.json with "type": "module", and node_modules holding only the installed packages (pg and
 * its dependencies) — nothing from the repository tree. A file the code reads from the source tree
 * at run time fails here as it would on AWS.
 */
export const SST_BANNER =
  'import { createRequire as topLevelCreateRequire } from "module";const require = topLevelCreateRequire(import.meta.url);'

/** stacks/functions.ts `nodejs.install` */
export const INSTALLED = ['pg']

const root = path.resolve(import.meta.dirname, '../..')

/** The package and every package it depends on, by name (npm's flat node_modules). */
function closure(names: string[]): Set<string> {
  const seen = new Set<string>()
  const visit = (name: string) => {
    if (seen.has(name)) return
    seen.add(name)
    const manifest = JSON.parse(
      readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      dependencies?: Record<string, string>
    }
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep)
  }
  names.forEach(visit)
  return seen
}

export interface LambdaArtifact {
  dir: string
  remove(): void
}

export async function bundleLambda(
  name: string,
  /** SST's `copyFiles` of the function (paths relative to the repository, then to the artifact) */
  copyFiles: readonly { from: string; to: string }[] = [],
): Promise<LambdaArtifact> {
  const dir = mkdtempSync(path.join(tmpdir(), `dialctl-lambda-${name}-`))
  await build({
    entryPoints: [path.join(root, 'functions', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: [...INSTALLED, 'pg-native'],
    banner: { js: SST_BANNER },
    outfile: path.join(dir, 'bundle.mjs'),
    logLevel: 'silent',
  })
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
  for (const file of copyFiles) {
    mkdirSync(path.dirname(path.join(dir, file.to)), { recursive: true })
    copyFileSync(path.join(root, file.from), path.join(dir, file.to))
  }
  mkdirSync(path.join(dir, 'node_modules'))
  for (const pkg of closure(INSTALLED)) {
    const target = path.join(dir, 'node_modules', pkg)
    mkdirSync(path.dirname(target), { recursive: true })
    symlinkSync(path.join(root, 'node_modules', pkg), target, 'dir')
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Imports the bundle in a fresh Node process whose working directory is the artifact (as
 * /var/task is), calls `handler(event, context)` and returns what it resolved to, or the error
 * it threw. `env` is the whole environment of the process: nothing leaks in from the test's.
 * `env.BUNDLE_TEST_ROUTES` (JSON `{ "<host>": "http://127.0.0.1:<port>" }`) stands in for DNS:
 * the bundle's fetch to such a host goes to the loopback server instead, the addressed host named
 * in the header `x-test-routed-host` (test/helpers/fake-sts.ts verifies that host).
 */
export function invokeBundle(
  artifact: LambdaArtifact,
  event: unknown,
  env: Record<string, string>,
): Promise<{ result?: unknown; error?: string; stdout: string; stderr: string }> {
  const out = path.join(artifact.dir, `result-${Date.now()}-${Math.random().toString(16).slice(2)}.json`)
  const script = `
import { writeFileSync } from 'node:fs'
const context = { functionName: 'bundle-test', functionVersion: '$LATEST', awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:bundle-test', memoryLimitInMB: '512',
  logGroupName: '/aws/lambda/bundle-test', logStreamName: 's', getRemainingTimeInMillis: () => 30000 }
const routes = JSON.parse(process.env.BUNDLE_TEST_ROUTES ?? '{}')
const realFetch = globalThis.fetch
globalThis.fetch = (input, init = {}) => {
  const url = new URL(String(input instanceof Request ? input.url : input))
  const to = routes[url.host]
  if (!to) return realFetch(input, init)
  const headers = { ...init.headers, 'x-test-routed-host': url.host }
  return realFetch(to + url.pathname + url.search, { ...init, headers })
}
try {
  const mod = await import('./bundle.mjs')
  const result = await mod.handler(JSON.parse(process.env.BUNDLE_TEST_EVENT), context)
  writeFileSync(process.env.BUNDLE_TEST_OUT, JSON.stringify({ result: result ?? null }))
} catch (error) {
  writeFileSync(process.env.BUNDLE_TEST_OUT, JSON.stringify({ error: String(error?.stack ?? error) }))
}
process.exit(0)
`
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: artifact.dir,
        env: {
          PATH: process.env.PATH ?? '',
          ...env,
          BUNDLE_TEST_EVENT: JSON.stringify(event),
          BUNDLE_TEST_OUT: out,
        },
        timeout: 20_000,
      },
      (_error, stdout, stderr) => {
        if (!existsSync(out))
          return resolve({ error: `the process wrote no result: ${stderr}`, stdout, stderr })
        resolve({ ...(JSON.parse(readFileSync(out, 'utf8')) as object), stdout, stderr })
      },
    )
  })
}

/** A metric as CloudWatch stores it from an EMF line: namespace, name, dimension values. */
export interface EmittedMetric {
  namespace: string
  name: string
  dimensions: Record<string, string>
}

/** The metrics in the Embedded Metric Format lines of a Lambda's stdout (what CloudWatch ingests). */
export function emfMetrics(stdout: string): EmittedMetric[] {
  const found: EmittedMetric[] = []
  for (const line of stdout.split('\n')) {
    if (!line.includes('"_aws"')) continue
    const doc = JSON.parse(line) as Record<string, unknown> & {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[]
      }
    }
    for (const d of doc._aws.CloudWatchMetrics)
      for (const set of d.Dimensions.length ? d.Dimensions : [[]])
        for (const m of d.Metrics)
          found.push({
            namespace: d.Namespace,
            name: m.Name,
            dimensions: Object.fromEntries(set.map((k) => [k, String(doc[k])])),
          })
  }
  return found
}

/**
 * The environment a linked function gets on AWS, pointed at this machine's stores: the links as
 * SST_RESOURCE_<Name> JSON (what `Resource.X` reads), the test's schema and key prefix, and TLS
 * off (the local servers speak neither TLS nor passwords; AWS's do, and the stack sets neither).
 */
export function linkedStoresEnv(
  stage: string,
  stores: { databaseUrl: string; schema: string; redisPrefix: string },
): Record<string, string> {
  const pg = new URL(stores.databaseUrl)
  return {
    DIALCTL_STAGE: stage,
    DATABASE_SCHEMA: stores.schema,
    DIALCTL_REDIS_PREFIX: stores.redisPrefix,
    DIALCTL_STORES_TLS: 'false',
    SST_RESOURCE_App: JSON.stringify({ name: 'dialctl', stage }),
    SST_RESOURCE_Postgres: JSON.stringify({
      host: pg.hostname,
      port: Number(pg.port || 5432),
      username: decodeURIComponent(pg.username || 'postgres'),
      password: '',
      database: pg.pathname.slice(1),
    }),
    SST_RESOURCE_Redis: JSON.stringify({ host: '127.0.0.1', port: 6379, username: 'default', password: '' }),
  }
}
