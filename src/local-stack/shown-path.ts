import { isAbsolute, join, relative, resolve } from 'node:path'

/**
 * A path as an operator can use it from `cwd`: relative when it lies inside `cwd` (short, and the
 * same for everyone in the clone), absolute otherwise — `../../../tmp/x` helps no one (issue #16).
 */
export function shownPath(path: string, cwd: string = process.cwd()): string {
  const absolute = resolve(cwd, path)
  const rel = relative(cwd, absolute)
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return absolute
  return rel
}

/**
 * The banner's line on how other terminals find this stack. Without DIALCTL_HOME they find
 * `.dialctl/stack.json` from the same directory on their own; with it, only if they export it
 * too (stack-file.ts reads DIALCTL_HOME first), so the line names that export (issue #16).
 */
export function otherTerminalsLine(
  dataDir: string,
  dialctlHome: string | undefined,
  cwd: string = process.cwd(),
): string {
  const file = shownPath(join(dataDir, 'stack.json'), cwd)
  if (dialctlHome === undefined || dialctlHome === '')
    return `Other terminals in this directory use these (${file}); no exports needed.`
  return `Other terminals use these (${file}) once they run: export DIALCTL_HOME=${resolve(cwd, dialctlHome)}`
}
