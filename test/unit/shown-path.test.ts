import { describe, expect, it } from 'vitest'
import { otherTerminalsLine, shownPath } from '../../src/local-stack/shown-path.js'

// Issue #16: the dev banner said "no exports needed" with DIALCTL_HOME set (other terminals then
// read ./.dialctl and find no stack), and printed ../../../tmp/… for a home outside the clone.
describe('the dev banner paths', () => {
  it('a path inside the working directory is shown relative, one outside it absolute', () => {
    expect(shownPath('/work/clone/.dialctl/stack.json', '/work/clone')).toBe('.dialctl/stack.json')
    expect(shownPath('/tmp/h1/stack.json', '/work/clone/sub')).toBe('/tmp/h1/stack.json')
    expect(shownPath('/work/clone', '/work/clone')).toBe('/work/clone')
    expect(shownPath('../sibling/x.log', '/work/clone')).toBe('/work/sibling/x.log')
  })

  it('without DIALCTL_HOME other terminals need nothing; with it, the line names the export', () => {
    expect(otherTerminalsLine('/work/clone/.dialctl', undefined, '/work/clone')).toBe(
      'Other terminals in this directory use these (.dialctl/stack.json); no exports needed.',
    )
    const line = otherTerminalsLine('/tmp/h1', '/tmp/h1', '/work/clone')
    expect(line).toBe(
      'Other terminals use these (/tmp/h1/stack.json) once they run: export DIALCTL_HOME=/tmp/h1',
    )
    expect(line).not.toContain('no exports needed')
    // a relative DIALCTL_HOME is exported as an absolute path: it must hold from any directory
    expect(otherTerminalsLine('/work/clone/h2', 'h2', '/work/clone')).toContain(
      'export DIALCTL_HOME=/work/clone/h2',
    )
  })
})
