import { describe, expect, it } from 'vitest'
import { maxCpsNote } from '../../src/cli/max-cps-note.js'

// Issue #16: after `cps set 20`, `dialctl dev --max-cps 5` dialed at 20 and the banner said nothing.
describe('the dev banner on --max-cps', () => {
  it('names the limit in force, who set it and how to apply the flag, when a stored limit wins', () => {
    expect(maxCpsNote(5, { cpsLimit: 20, limitSource: 'postgres' })).toBe(
      '  CPS limit   20, set by an operator earlier (dialctl cps history); --max-cps 5 applies only when no limit is set: dialctl cps set 5 --reason … to use it now',
    )
    expect(maxCpsNote(5, { cpsLimit: 20, limitSource: 'redis' })).toContain('CPS limit   20')
  })
  it('says nothing when the flag is in force or not given', () => {
    expect(maxCpsNote(5, { cpsLimit: 5, limitSource: 'default' })).toBeUndefined()
    expect(maxCpsNote(5, { cpsLimit: 5, limitSource: 'redis' })).toBeUndefined()
    expect(maxCpsNote(undefined, { cpsLimit: 20, limitSource: 'redis' })).toBeUndefined()
  })
})
