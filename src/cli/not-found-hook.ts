import type { Hook } from '@oclif/core'
import { ExitCode } from '../exit-codes.js'
import { closest } from './parse-errors.js'

/**
 * `dialctl campain list`: oclif's default is a bare "command campain:list not found". This says
 * it as the other usage errors do — what was typed, the closest command when it looks like a
 * typo, the → line — plain or as the --json error document, exit 2 (issue #16).
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const typed = options.id.replaceAll(':', ' ')
  const ids = options.config.commandIDs
  const guess = closest(options.id, ids)?.replaceAll(':', ' ')
  const message = `"${typed}" is not a dialctl command${guess ? `; did you mean "${guess}"?` : '.'}`
  const suggestion = guess
    ? `Run \`dialctl ${guess} --help\`, or \`dialctl --help\` for every command.`
    : 'Run `dialctl --help` for every command.'
  if (options.argv?.includes('--json'))
    process.stdout.write(JSON.stringify({ error: { code: 'USAGE', message, suggestion } }, null, 2) + '\n')
  else process.stderr.write(`Error: ${message}\n  → ${suggestion}\n`)
  this.exit(ExitCode.Usage)
}

export default hook
