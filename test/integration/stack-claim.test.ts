import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { processStartTime } from '../../src/local-stack/process-identity.js'
import { claimStackFile, releaseStackClaim } from '../../src/local-stack/stack-file.js'
import { ROOT } from '../faults/helpers/processes.js'

/**
 * Issue #16: two `dialctl dev` started in the same instant in one directory both passed the
 * check-then-write on stack.json. The claim is now a lock taken atomically (stack.lock): of any
 * number of starters racing, exactly one owns the directory — also when they race to take over a
 * lock left by a dead process.
 */

/** The built module, as `dialctl dev` runs it (test/global-setup.ts builds the CLI first). */
const BUILT = join(ROOT, 'dist', 'src', 'local-stack', 'stack-file.js')

/**
 * A claimer in its own process: loads the module, says "ready", claims on "go", prints the result
 * as one JSON line, and keeps its claim (stays alive) until its stdin closes.
 */
const CLAIMER = `
const { claimStackFile } = await import(process.argv[1])
const dir = process.argv[2]
process.stdout.write('ready\\n')
process.stdin.once('data', async () => {
  try {
    const stale = await claimStackFile(dir)
    process.stdout.write(JSON.stringify({ pid: process.pid, won: true, stale: stale ?? null }) + '\\n')
  } catch (error) {
    process.stdout.write(JSON.stringify({ pid: process.pid, won: false, code: error.code, message: error.message, suggestion: error.suggestion }) + '\\n')
  }
})
process.stdin.on('end', () => process.exit(0))
`

interface ClaimResult {
  pid: number
  won: boolean
  stale?: { pid?: number } | null
  code?: string
  message?: string
  suggestion?: string
}

const dirs: string[] = []
const children: ChildProcess[] = []
const sleepers: ChildProcess[] = []
afterEach(async () => {
  for (const s of sleepers.splice(0)) {
    if (s.exitCode === null && s.signalCode === null) {
      s.kill()
      await once(s, 'exit')
    }
  }
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.stdin?.end()
      await once(c, 'exit')
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dialctl-claim-'))
  dirs.push(dir)
  return dir
}

/** Lines of a child's stdout, one at a time. */
function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
}

/** `n` claimers on `dir`, all loaded, released at once; their results once every one has answered. */
async function race(dir: string, n: number): Promise<ClaimResult[]> {
  const started = Array.from({ length: n }, () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CLAIMER, BUILT, dir], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    children.push(child)
    return { child, out: lines(child) }
  })
  for (const { out } of started) expect((await out.next()).value).toBe('ready')
  for (const { child } of started) child.stdin!.write('go\n')
  const results: ClaimResult[] = []
  for (const { out } of started) results.push(JSON.parse((await out.next()).value as string) as ClaimResult)
  return results
}

/** A pid that belonged to a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!

/**
 * A live process that is no dialctl at all (`sleep 30`, killed after the test): what a stale
 * lock's pid may belong to once the kernel has reused it. Resolves once it runs, with its start time.
 */
async function unrelatedProcess(): Promise<{ pid: number; start: string }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' })
  sleepers.push(child)
  await once(child, 'spawn')
  const start = processStartTime(child.pid!)
  expect(start, '/proc/<pid>/stat is readable on Linux').toMatch(/^\d+$/)
  return { pid: child.pid!, start: start! }
}

/** A start time other than `start`: the one the lock's real (dead) owner had. */
const otherThan = (start: string) => String(Number(start) + 1)

/** A full stack.json naming `pid`, as `dialctl dev` writes it. */
const stackJson = (pid: number, pidStartTime?: string) =>
  JSON.stringify({
    pid,
    ...(pidStartTime ? { pidStartTime } : {}),
    startedAt: 'earlier',
    databaseUrl: 'postgres://127.0.0.1:1/x',
    redisUrl: 'redis://127.0.0.1:1',
    workerUrl: 'http://127.0.0.1:1',
    pipeName: 'local',
  })

/** A `kill` in advice: only ever for an owner whose identity was verified. */
const KILL = /\bkill\b/

/** The lock's owner pid as written in the file. */
const lockPid = (dir: string) => Number(readFileSync(join(dir, 'stack.lock'), 'utf8').split(/\s+/)[0])

describe('claimStackFile: one owner per directory, whatever the timing', () => {
  it('of claimers started in the same instant exactly one wins; the others get STACK_RUNNING naming it', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = tempDir()
      const results = await race(dir, 4)
      const winners = results.filter((r) => r.won)
      expect(winners).toHaveLength(1)
      const winner = winners[0]!
      expect(winner.stale).toBeNull()
      for (const loser of results.filter((r) => !r.won)) {
        expect(loser.code).toBe('STACK_RUNNING')
        expect(loser.message).toContain(`pid ${winner.pid}`)
        // the winner's start time was checked: it is the owner, and may be stopped by its pid
        expect(loser.suggestion).toContain(`kill ${winner.pid}`)
      }
      expect(lockPid(dir)).toBe(winner.pid)
    }
  }, 60_000)

  it('a lock left by a dead process is taken over by exactly one of the claimers racing for it', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = tempDir()
      const dead = deadPid()
      writeFileSync(join(dir, 'stack.lock'), `${dead}\n`)
      writeFileSync(join(dir, 'stack.json'), JSON.stringify({ pid: dead, startedAt: 'earlier' }))
      const results = await race(dir, 4)
      const winners = results.filter((r) => r.won)
      expect(winners).toHaveLength(1)
      expect(winners[0]!.stale).toEqual({ pid: dead, startedAt: 'earlier' })
      expect(results.filter((r) => !r.won).map((r) => r.code)).toEqual([
        'STACK_RUNNING',
        'STACK_RUNNING',
        'STACK_RUNNING',
      ])
      expect(lockPid(dir)).toBe(winners[0]!.pid)
      // no takeover guard or temp file is left behind
      expect(readdirSync(dir).sort()).toEqual(['stack.json', 'stack.lock'])
    }
  }, 60_000)

  it('a winner that dies leaves a stale lock the next start takes over', async () => {
    const dir = tempDir()
    const [winner] = await race(dir, 1)
    expect(winner!.won).toBe(true)
    children[0]!.stdin!.end()
    await once(children[0]!, 'exit')
    expect(lockPid(dir)).toBe(winner!.pid) // it never released: as after a SIGKILL
    await expect(claimStackFile(dir)).resolves.toBeUndefined()
    expect(lockPid(dir)).toBe(process.pid)
    releaseStackClaim(dir)
  }, 30_000)

  it('in one process: a second claim is refused; release frees the directory', async () => {
    const dir = tempDir()
    await claimStackFile(dir)
    const second = await claimStackFile(dir).catch((e: unknown) => e)
    expect(second).toBeInstanceOf(OperatorError)
    expect((second as OperatorError).code).toBe('STACK_RUNNING')
    expect((second as OperatorError).message).toContain(`pid ${process.pid}, still starting`)
    releaseStackClaim(dir)
    expect(existsSync(join(dir, 'stack.lock'))).toBe(false)
    await expect(claimStackFile(dir)).resolves.toBeUndefined()
    releaseStackClaim(dir)
  })

  it.each([
    [
      'names this pid but not this process (a restarted container reuses pids)',
      () => `${process.pid} other\n`,
    ],
    ['is not a pid (edited by hand)', () => 'garbage\n'],
  ])('a lock that %s is stale and taken over', async (_what, content) => {
    const dir = tempDir()
    writeFileSync(join(dir, 'stack.lock'), content())
    await expect(claimStackFile(dir)).resolves.toBeUndefined()
    expect(readFileSync(join(dir, 'stack.lock'), 'utf8')).toMatch(new RegExp(`^${process.pid} \\S+ \\d+\\n$`))
    releaseStackClaim(dir)
  })

  it('a takeover guard left by a starter that died mid-takeover does not block the next start', async () => {
    const dir = tempDir()
    const dead = deadPid()
    writeFileSync(join(dir, 'stack.lock'), `${dead}\n`)
    // the guard's name is derived from the stale lock it removes: `<lock>.takeover-<pid>-<token>`
    writeFileSync(join(dir, `stack.lock.takeover-${dead}-`), `${deadPid()}\n`)
    await expect(claimStackFile(dir)).resolves.toBeUndefined()
    expect(lockPid(dir)).toBe(process.pid)
    expect(readdirSync(dir)).toEqual(['stack.lock'])
    releaseStackClaim(dir)
  })

  it('release leaves another owner’s lock alone', async () => {
    const dir = tempDir()
    const [winner] = await race(dir, 1)
    releaseStackClaim(dir)
    expect(lockPid(dir)).toBe(winner!.pid)
  }, 30_000)

  it('a lock whose pid now runs an unrelated process (pid reused, other start time) is taken over', async () => {
    const dir = tempDir()
    const other = await unrelatedProcess()
    writeFileSync(join(dir, 'stack.lock'), `${other.pid} token-of-the-dead-owner ${otherThan(other.start)}\n`)
    writeFileSync(join(dir, 'stack.json'), stackJson(other.pid, otherThan(other.start)))
    await expect(claimStackFile(dir)).resolves.toEqual({ pid: other.pid, startedAt: 'earlier' })
    expect(lockPid(dir)).toBe(process.pid)
    expect(sleepers[0]!.exitCode).toBeNull() // the unrelated process was left alone
    releaseStackClaim(dir)
  })

  it('a takeover guard whose pid now runs an unrelated process does not block the next start', async () => {
    const dir = tempDir()
    const dead = deadPid()
    const other = await unrelatedProcess()
    writeFileSync(join(dir, 'stack.lock'), `${dead}\n`)
    writeFileSync(join(dir, `stack.lock.takeover-${dead}-`), `${other.pid} t ${otherThan(other.start)}\n`)
    await expect(claimStackFile(dir)).resolves.toBeUndefined()
    expect(lockPid(dir)).toBe(process.pid)
    expect(readdirSync(dir)).toEqual(['stack.lock'])
    releaseStackClaim(dir)
  })

  it('a stack.json (no lock: an older dialctl) whose pid now runs an unrelated process is stale', async () => {
    const dir = tempDir()
    const other = await unrelatedProcess()
    writeFileSync(join(dir, 'stack.json'), stackJson(other.pid, otherThan(other.start)))
    await expect(claimStackFile(dir)).resolves.toEqual({ pid: other.pid, startedAt: 'earlier' })
    releaseStackClaim(dir)
  })

  it.each([
    ['a lock', (pid: number) => [['stack.lock', `${pid} token-of-an-older-dialctl\n`]]],
    ['a stack.json', (pid: number) => [['stack.json', stackJson(pid)]]],
  ])(
    '%s naming a live pid with no start time (macOS, an older dialctl) is refused, advising a check, never a bare kill',
    async (_what, files) => {
      const dir = tempDir()
      const other = await unrelatedProcess()
      for (const [name, content] of files(other.pid)) writeFileSync(join(dir, name!), content!)
      const refused = await claimStackFile(dir).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(OperatorError)
      const { code, message, suggestion } = refused as OperatorError
      expect(code).toBe('STACK_RUNNING')
      expect(message).toContain(`pid ${other.pid}`)
      expect(suggestion).toContain(`ps -p ${other.pid} -o command`)
      expect(suggestion).not.toMatch(KILL)
      expect(sleepers[0]!.exitCode).toBeNull()
    },
  )

  it('stack.json written by this process carries its start time, and so identifies it', async () => {
    const dir = tempDir()
    await claimStackFile(dir)
    const { writeStackFile } = await import('../../src/local-stack/stack-file.js')
    writeStackFile(JSON.parse(stackJson(process.pid)) as Parameters<typeof writeStackFile>[0], dir)
    const written = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as { pidStartTime?: string }
    expect(written.pidStartTime).toBe(processStartTime(process.pid))
    releaseStackClaim(dir)
  })
})
