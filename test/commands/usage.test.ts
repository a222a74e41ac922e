import { describe, expect, it } from 'vitest'
import { dialctl, jsonOf } from './helpers.js'

/**
 * Usage errors exit 2 whatever oclif's wording: BaseCommand marks everything its parser throws
 * (its own error classes and the flag/argument parsers' errors) rather than matching message text.
 * None of these reaches a store: parsing fails first.
 */
describe('usage errors (exit 2)', () => {
  const cases: [string, string[]][] = [
    ['an argument of the wrong kind', ['cps', 'set', '2.5', '--reason', 'x']],
    ['a flag value of the wrong kind', ['dlq', 'list', '--limit', 'many']],
    ['a flag value out of range', ['dlq', 'list', '--limit', '0']],
    ['an unknown flag', ['status', '--bogus']],
    ['a missing argument', ['campaign', 'show']],
    ['an unexpected argument', ['campaign', 'show', 'camp-1', 'camp-2']],
    ['a missing required flag', ['cps', 'set', '5']],
  ]

  it.each(cases)('%s: exit 2, the message on stderr', async (_what, args) => {
    const run = await dialctl(args)
    expect(run.exitCode).toBe(2)
  })

  it.each(cases)('%s: under --json, a USAGE error document and exit 2', async (_what, args) => {
    const run = await dialctl([...args, '--json'])
    expect(run.exitCode).toBe(2)
    expect(jsonOf(run)).toMatchObject({ error: { code: 'USAGE', message: expect.any(String) } })
  })
})

/**
 * Input files named on the command line (issue #16: `contacts import --campaign x examples/`
 * printed a raw EISDIR): a directory or a missing path is a usage error naming the path, with a
 * → line, before any store is reached.
 */
describe('input file paths that are not files (exit 2, BAD_FILE)', () => {
  const cases: [string, string[], string][] = [
    [
      'contacts import, a directory',
      ['contacts', 'import', '--campaign', 'x', 'examples'],
      'examples is a directory',
    ],
    [
      'contacts import, no such file',
      ['contacts', 'import', '--campaign', 'x', 'nope.csv'],
      'nope.csv does not exist',
    ],
    ['campaign create, a directory', ['campaign', 'create', 'examples'], 'examples is a directory'],
    [
      'campaign create --file, no such file',
      ['campaign', 'create', '--file', 'nope.jsonc'],
      'nope.jsonc does not exist',
    ],
    [
      'cps auto --policy, a directory',
      ['cps', 'auto', '--once', '--policy', 'examples'],
      'examples is a directory',
    ],
  ]

  it.each(cases)('%s', async (_what, args, message) => {
    const run = await dialctl(args)
    expect(run.exitCode).toBe(2)
    expect(run.stderr).toContain(message)
    expect(run.stderr).toMatch(/→ .*e\.g\./)
    expect(run.stderr).not.toMatch(/EISDIR|ENOENT/)
    const json = await dialctl([...args, '--json'])
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({
      error: { code: 'BAD_FILE', message: expect.stringContaining(message) },
    })
  })
})

/**
 * oclif's parse errors read as one line naming the flag or argument, with the → line, in both
 * modes (issue #16: `--json` printed oclif's raw "The following error occurred:\n  Missing
 * required flag reason\nSee more help with --help", with no suggestion).
 */
describe('parse errors name what is wrong, with a → line, plain and --json', () => {
  const cases: [string, string[], string][] = [
    ['a missing required flag', ['cps', 'set', '30'], 'Missing required flag: --reason'],
    ['a missing argument', ['campaign', 'show'], 'Missing argument: ID (campaign id).'],
    ['an unexpected argument', ['campaign', 'show', 'a', 'b'], 'Unexpected argument: b.'],
    ['a mistyped flag', ['cps', 'set', '30', '--reasn', 'x'], 'Unknown flag --reasn; did you mean --reason?'],
    [
      'a hold of no time',
      ['cps', 'set', '30', '--reason', 'x', '--for', '0s'],
      '--for 0s: a hold must last longer than 0',
    ],
  ]

  it.each(cases)('%s', async (_what, args, message) => {
    const plain = await dialctl(args)
    expect(plain.exitCode).toBe(2)
    expect(plain.stderr).toContain(`Error: ${message}`)
    expect(plain.stderr).toMatch(/→ (Run `dialctl [a-z ]+ --help`|Use e\.g\.)/)
    expect(plain.stderr).not.toMatch(/following error|See more help/)
    const json = await dialctl([...args, '--json'])
    expect(json.exitCode).toBe(2)
    const doc = jsonOf(json) as { error: { code: string; message: string; suggestion: string } }
    expect(doc.error.code).toBe('USAGE')
    expect(doc.error.message).toContain(message)
    expect(doc.error.message).not.toMatch(/\n|See more help/)
    expect(doc.error.suggestion).toMatch(/^(Run `dialctl [a-z ]+ --help`|Use e\.g\.)/)
  })
})

/** An unknown command (issue #16): the closest command when it looks like a typo, and a → line. */
describe('an unknown command (exit 2)', () => {
  it.each([
    [['campain', 'list'], 'did you mean "campaign list"?'],
    [['zzz'], '"zzz" is not a dialctl command.'],
  ])('%j', async (args, message) => {
    const plain = await dialctl(args)
    expect(plain.exitCode).toBe(2)
    expect(plain.stderr).toContain(message)
    expect(plain.stderr).toMatch(/→ Run `dialctl/)
    const json = await dialctl([...args, '--json'])
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({
      error: { code: 'USAGE', message: expect.stringContaining(message) },
    })
  })
})
