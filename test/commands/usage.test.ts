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
