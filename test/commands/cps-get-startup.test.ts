/**
 * What `dialctl cps get` loads at start-up (issue #16: within 2× a bare Node process reading the
 * same keys; the time is measured in test/bench/cli.bench.ts). The time depends on the machine;
 * the module graph does not: this pins the modules the command must not load — each was once on
 * its path and cost it tens of milliseconds (the AWS SDK's SSM client ~85 ms, zod ~40 ms).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { ROOT } from './helpers.js'

let db: TestDb
let redis: TestRedis
let dir: string
beforeAll(async () => {
  ;[db, redis] = await Promise.all([createTestDb('cpsstart'), createTestRedis('cpsstart')])
  dir = mkdtempSync(join(tmpdir(), 'dialctl-startup-'))
  // every file loaded: ESM through a loader hook, CommonJS through the .js/.json loaders
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs'
export async function load(url, context, next) { appendFileSync(${JSON.stringify(join(dir, 'loaded.txt'))}, url + '\\n'); return next(url, context) }`,
  )
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)})`,
  )
  writeFileSync(
    join(dir, 'cjs.cjs'),
    `const Module = require('node:module'); const fs = require('node:fs')
for (const ext of ['.js', '.json']) { const load = Module._extensions[ext]
  Module._extensions[ext] = function (m, f) { fs.appendFileSync(${JSON.stringify(join(dir, 'loaded.txt'))}, f + '\\n'); return load.call(this, m, f) } }`,
  )
})
afterAll(async () => {
  await Promise.all([db.drop(), redis.cleanup()])
})

function loadedBy(args: string[], home: string): string[] {
  writeFileSync(join(dir, 'loaded.txt'), '')
  const out = spawnSync(
    process.execPath,
    [
      '--require',
      join(dir, 'cjs.cjs'),
      '--import',
      pathToFileURL(join(dir, 'register.mjs')).href,
      'bin/run.js',
      ...args,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        ...db.env,
        DIALCTL_REDIS_PREFIX: redis.prefix,
        DIALCTL_STAGE: 'local',
        DIALCTL_HOME: home,
        NO_COLOR: '1',
      },
    },
  )
  expect(out.stderr).toBe('')
  expect(out.status).toBe(0)
  return readFileSync(join(dir, 'loaded.txt'), 'utf8').split('\n').filter(Boolean)
}

const UNNEEDED = [
  /node_modules\/@aws-sdk\//,
  /node_modules\/@smithy\//,
  /node_modules\/zod\//,
  /node_modules\/cli-table3\//,
  /node_modules\/csv-parse\//,
  /node_modules\/libphonenumber-js\//,
  // the campaign modules, the IVR validators, the local queue and pipe
  /dist\/src\/(campaigns|ivr|queue\/pg-|pipe)\//,
]

describe('cps get start-up', () => {
  it('loads the stores and the pacing modules, not the AWS SDK, zod, tables or the campaign, queue and pipe modules', () => {
    const loaded = loadedBy(['cps', 'get'], join(dir, 'no-stack'))
    // the hooks saw the command run: its own module, ioredis and pg were loaded
    expect(loaded.some((f) => f.endsWith('dist/commands/cps/get.js'))).toBe(true)
    expect(loaded.some((f) => /node_modules\/ioredis\//.test(f))).toBe(true)
    expect(loaded.some((f) => /node_modules\/pg\//.test(f))).toBe(true)
    expect(loaded.filter((f) => UNNEEDED.some((re) => re.test(f)))).toEqual([])
  })

  it('--json loads no more', () => {
    const loaded = loadedBy(['cps', 'get', '--json'], join(dir, 'no-stack'))
    expect(loaded.filter((f) => UNNEEDED.some((re) => re.test(f)))).toEqual([])
  })
})
