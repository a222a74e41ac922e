import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXPLICIT_LOCAL_ENV } from '../../src/local-stack/stack-file.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { dialctl, jsonOf } from './helpers.js'

// Issue #16: once `dialctl dev` stopped (stack.json removed), push said "Sent … to stage local."
// and status/doctor answered for the default schema that no stack uses. Now each says, first and
// once, that no stack runs and how to start one; explicit store variables still win.
const saved = { ...process.env }
let home: string
let db: TestDb

beforeAll(async () => {
  db = await createTestDb('cmdnostack')
  home = mkdtempSync(join(tmpdir(), 'dialctl-nostack-'))
})
afterAll(async () => {
  process.env = saved
  await db.drop()
})

function noStores(): void {
  process.env = { ...saved, DIALCTL_HOME: home, DIALCTL_STAGE: 'local', NO_COLOR: '1' }
  for (const name of EXPLICIT_LOCAL_ENV) delete process.env[name]
}

describe('commands that need the running local stack, with none running', () => {
  it('push exits 1, status and doctor exit 3, each with the one line naming the folder and `dialctl dev`', async () => {
    noStores()
    const line = `No local stack is running from ${home} (no ${join(home, 'stack.json')}) — start it with \`dialctl dev\`.`
    const push = await dialctl(['push', '--campaign', 'demo', '--phone', '+12125550100'])
    expect(push.exitCode).toBe(1)
    expect(push.stdout).not.toContain('Sent')
    expect(push.stderr).toContain(line)
    for (const command of ['status', 'doctor']) {
      const run = await dialctl([command])
      expect(run.exitCode, command).toBe(3)
      expect(run.stderr.trim().split('\n')[0], command).toBe(`Error: ${line}`)
      expect(run.stdout, command).toBe('')
    }
    const json = await dialctl(['status', '--json'])
    expect(jsonOf(json)).toMatchObject({ error: { code: 'NO_LOCAL_STACK' } })
  })

  it('a stack.json left by a stopped stack is named as such', async () => {
    noStores()
    writeFileSync(
      join(home, 'stack.json'),
      JSON.stringify({
        pid: 2 ** 22 + 12345,
        databaseUrl: 'postgres://x@127.0.0.1/x',
        redisUrl: 'redis://127.0.0.1',
      }),
    )
    const run = await dialctl(['push', '--campaign', 'demo', '--phone', '+12125550100'])
    expect(run.exitCode).toBe(1)
    expect(run.stderr).toContain(`(${join(home, 'stack.json')} names a stack that is no longer running)`)
  })

  it('stores named in the environment still win: status runs against them (no NO_LOCAL_STACK)', async () => {
    noStores()
    Object.assign(process.env, db.env)
    const run = await dialctl(['status', '--json'])
    expect(run.stderr).not.toContain('No local stack')
    expect(JSON.stringify(jsonOf(run))).not.toContain('NO_LOCAL_STACK')
  })
})
