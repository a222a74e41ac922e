import { describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { parseStartTime, processStartTime } from '../../src/local-stack/process-identity.js'
import { explainLinkError } from '../../src/local-stack/stack-lock.js'

/** A /proc/<pid>/stat line (proc(5)) with `comm` as given and starttime (field 22) 4242. */
const statLine = (comm: string) =>
  `123 (${comm}) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0`

describe('process start time (/proc/<pid>/stat field 22)', () => {
  it.each([['node'], ['a b'], ['x) S 1 2 3 (y'], ['))']])(
    'is read after the last ")" whatever comm holds: %j',
    (comm) => {
      expect(parseStartTime(statLine(comm))).toBe('4242')
    },
  )

  it('is undefined for a line that does not parse', () => {
    expect(parseStartTime('garbage')).toBeUndefined()
    expect(parseStartTime('1 (x) S 1 2')).toBeUndefined()
  })

  it.runIf(process.platform === 'linux')('is this process’s own, stable, on Linux', () => {
    const start = processStartTime(process.pid)
    expect(start).toMatch(/^\d+$/)
    expect(processStartTime(process.pid)).toBe(start)
  })
})

describe('a lock on a file system without hard links', () => {
  it.each(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS'])(
    'link failing with %s is an OperatorError naming DIALCTL_HOME',
    (code) => {
      const error = Object.assign(new Error(`${code}: operation not permitted, link`), { code })
      const explained = explainLinkError(error, '/mnt/share/.dialctl/stack.lock')
      expect(explained).toBeInstanceOf(OperatorError)
      expect(explained!.code).toBe('LOCK_UNSUPPORTED_FS')
      expect(explained!.message).toContain('/mnt/share/.dialctl/stack.lock')
      expect(explained!.message).toContain(code)
      expect(explained!.suggestion).toContain('DIALCTL_HOME=')
    },
  )

  it('other errors are left as they are', () => {
    expect(explainLinkError(Object.assign(new Error('x'), { code: 'EACCES' }), '/x')).toBeUndefined()
    expect(explainLinkError(null, '/x')).toBeUndefined()
  })
})
