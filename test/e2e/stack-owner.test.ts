import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startLocalStack, type LocalStack } from '../../local/stack.js'
import { createPool, quoteIdent } from '../../src/db/pool.js'
import { OperatorError } from '../../src/errors.js'
import { removeStackFile } from '../../src/local-stack/stack-file.js'

/**
 * Issue #16: a second `dialctl dev` in the same directory took over the first one's stack.json
 * (and deleted it on exit), so every command there targeted the wrong stack. Only one live stack
 * owns a directory; only the owner removes its file; a dead owner's file is replaced.
 */
describe('stack.json has one live owner', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialctl-owner-'))
  const file = join(dataDir, 'stack.json')
  const schema = `owner_${randomBytes(4).toString('hex')}`
  const prefix = `test:owner:${randomBytes(4).toString('hex')}:`
  let first: LocalStack | undefined

  afterAll(async () => {
    await first?.stop()
    const admin = createPool({ max: 1 })
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`)
    await admin.end()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const start = (options: { schema?: string } = {}) =>
    startLocalStack({
      dataDir,
      ...options,
      redisPrefix: prefix,
      workerPort: 0,
      dispatcher: false,
      logLevel: 'ERROR',
      sim: { speed: 0 },
    })

  it('a dead owner’s file is replaced, with a note', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.pid'])
    writeFileSync(file, JSON.stringify({ pid: gone.pid, startedAt: 'earlier' }))
    first = await start({ schema })
    expect(first.replacedStackFile).toEqual({ pid: gone.pid, startedAt: 'earlier' })
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, schema })
  }, 60_000)

  it('a second start while the first runs is refused, naming the first; the first keeps its file', async () => {
    const before = readFileSync(file, 'utf8')
    const second = await start().catch((e: unknown) => e)
    expect(second).toBeInstanceOf(OperatorError)
    const error = second as OperatorError
    expect(error.message).toContain(`pid ${process.pid}`)
    expect(error.message).toContain(`schema ${schema}`)
    expect(error.message).toContain(`Redis prefix ${JSON.stringify(prefix)}`)
    expect(error.message).toContain(first!.workerUrl)
    expect(error.suggestion).toMatch(/stop it first.*another directory/)
    expect(readFileSync(file, 'utf8')).toBe(before)
  })

  it('only the owner removes the file; stop releases the directory', async () => {
    removeStackFile(dataDir, process.pid + 1)
    expect(existsSync(file)).toBe(true)
    await first!.stop()
    first = undefined
    expect(existsSync(file)).toBe(false)
    // the claim is given back with it: the next start here is not refused
    expect(existsSync(join(dataDir, 'stack.lock'))).toBe(false)
  }, 60_000)
})
