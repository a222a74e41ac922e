/**
 * oclif's parse errors as one line a person reads, recognised by their class (oclif 4's
 * src/parser/errors.ts: RequiredArgsError, UnexpectedArgsError, NonExistentFlagsError,
 * FailedFlagValidationError — not exported by @oclif/core, so matched by class name and the
 * fields each carries), never by message wording. Undefined: not one of these; the caller keeps
 * its own description.
 */
interface ParseErrorShape {
  constructor: { name: string }
  args?: unknown[]
  flags?: string[]
  parse?: {
    input?: { flags?: Record<string, { required?: boolean; description?: string; char?: string }> }
    output?: { flags?: Record<string, unknown> }
  }
}

/** Edit distance (insert, delete, substitute), for "did you mean" on a short list of names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}

/** The closest of `names` to `typed`, when close enough to be a typo (≤ 2 edits, or a prefix). */
export function closest(typed: string, names: string[]): string | undefined {
  let best: { name: string; d: number } | undefined
  for (const name of names) {
    const d = name.startsWith(typed) && typed.length >= 2 ? 0.5 : editDistance(typed, name)
    if (!best || d < best.d) best = { name, d }
  }
  return best && best.d <= Math.min(2, Math.max(1, Math.floor(typed.length / 3))) ? best.name : undefined
}

export function describeParseError(error: unknown, knownFlags: string[]): string | undefined {
  const e = error as ParseErrorShape | null
  if (!e || typeof e !== 'object' || !e.parse) return undefined
  switch (e.constructor.name) {
    case 'RequiredArgsError': {
      const args = (e.args ?? []) as { name?: string; description?: string }[]
      return `Missing argument${args.length === 1 ? '' : 's'}: ${args
        .map((a) => `${(a.name ?? '?').toUpperCase()}${a.description ? ` (${a.description})` : ''}`)
        .join(', ')}.`
    }
    case 'UnexpectedArgsError':
      return `Unexpected argument${e.args?.length === 1 ? '' : 's'}: ${(e.args ?? []).join(', ')}.`
    case 'NonExistentFlagsError':
      return (e.flags ?? [])
        .map((typed) => {
          const guess = closest(typed.replace(/^-+/, '').split('=')[0]!, knownFlags)
          return `Unknown flag ${typed}${guess ? `; did you mean --${guess}?` : '.'}`
        })
        .join(' ')
    case 'FailedFlagValidationError': {
      const input = e.parse.input?.flags ?? {}
      const output = e.parse.output?.flags ?? {}
      const missing = Object.entries(input)
        .filter(([name, flag]) => flag.required && output[name] === undefined)
        .map(([name, flag]) => `--${name}${flag.description ? ` — ${flag.description}` : ''}`)
      return missing.length > 0
        ? `Missing required flag${missing.length === 1 ? '' : 's'}: ${missing.join(', ')}.`
        : undefined
    }
    default:
      return undefined
  }
}
