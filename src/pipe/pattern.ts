import { errorMessage } from '../errors.js'
/**
 * EventBridge event patterns (the pipe's filter), matched the way EventBridge documents them
 * (docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and aws/event-ruler):
 * - a pattern is an object; fields are ANDed; each leaf is an array of alternatives (OR);
 * - alternatives: exact string / number / boolean / null, or one operator object: prefix, suffix,
 *   equals-ignore-case, wildcard, anything-but (value, list, prefix, suffix, equals-ignore-case,
 *   wildcard), numeric ranges, exists, cidr (IPv4);
 * - `$or: [pattern, pattern, ...]` at any level;
 * - when the event value is an array, the field matches if any element does; objects inside arrays
 *   are matched one element at a time (fields of two different elements never combine);
 * - `exists` looks at leaves only: an object value does not "exist" for it.
 * Patterns are validated once (compilePattern) with errors naming the field and the fix.
 */

export class PatternError extends Error {
  constructor(
    /** dotted path of the offending field in the pattern, e.g. "body.attempts" */
    readonly path: string,
    message: string,
  ) {
    super(`event pattern ${path ? `field "${path}"` : '(root)'}: ${message}`)
    this.name = 'PatternError'
  }
}

export type EventPattern = { [field: string]: unknown }

export interface CompileOptions {
  /**
   * 'pipes' (default) refuses what EventBridge Pipes filters do not support (anything-but with
   * prefix / suffix / equals-ignore-case / wildcard), so a filter that works locally also deploys.
   * 'eventbus' accepts the full event-bus syntax.
   */
  dialect?: 'pipes' | 'eventbus'
}

type Leaf = string | number | boolean | null
type LeafTest = (values: Leaf[], present: boolean) => boolean
interface Node {
  fields: { key: string; node?: Node; tests?: LeafTest[] }[]
  ors: Node[][]
}

const OPERATORS = [
  'prefix',
  'suffix',
  'equals-ignore-case',
  'wildcard',
  'anything-but',
  'numeric',
  'exists',
  'cidr',
] as const

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

const join = (path: string, key: string) => (path ? `${path}.${key}` : key)

/** Validates and compiles; the returned function tells whether an event matches. */
export function compilePattern(pattern: unknown, options: CompileOptions = {}): (event: unknown) => boolean {
  const parsed = typeof pattern === 'string' ? parseJson(pattern) : pattern
  if (!isPlainObject(parsed))
    throw new PatternError(
      '',
      'a pattern must be a JSON object, e.g. {"body": {"phoneNumber": [{"exists": true}]}}',
    )
  if (Object.keys(parsed).length === 0)
    throw new PatternError('', 'the pattern is empty; name at least one field to match')
  const root = compileNode(parsed, '', options.dialect ?? 'pipes')
  return (event) => evaluate(root, event)
}

/** Validates without keeping the compiled form; throws PatternError naming the field. */
export function validatePattern(pattern: unknown, options: CompileOptions = {}): void {
  compilePattern(pattern, options)
}

/** One-shot match (compiles each call: prefer compilePattern for repeated use). */
export function matchesPattern(pattern: unknown, event: unknown, options: CompileOptions = {}): boolean {
  return compilePattern(pattern, options)(event)
}

/**
 * Pipes' FilterCriteria: up to 5 patterns, an event passes if any matches. No filter = all pass.
 */
export function compileFilters(
  patterns: unknown[] | undefined,
  options: CompileOptions = {},
): (event: unknown) => boolean {
  if (!patterns || patterns.length === 0) return () => true
  if (patterns.length > 5)
    throw new PatternError('', `${patterns.length} filters; EventBridge Pipes accepts at most 5 per pipe`)
  const compiled = patterns.map((p) => compilePattern(p, options))
  return (event) => compiled.some((match) => match(event))
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new PatternError('', `not valid JSON (${errorMessage(error)})`)
  }
}

function compileNode(obj: Record<string, unknown>, path: string, dialect: 'pipes' | 'eventbus'): Node {
  const node: Node = { fields: [], ors: [] }
  for (const [key, value] of Object.entries(obj)) {
    const here = join(path, key)
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isPlainObject))
        throw new PatternError(
          here,
          '"$or" needs an array of at least two pattern objects, e.g. [{"a": [1]}, {"b": [2]}]',
        )
      node.ors.push(
        value.map((alt, i) => {
          if (Object.keys(alt).length === 0)
            throw new PatternError(`${here}[${i}]`, 'an empty pattern object in "$or"')
          return compileNode(alt, `${here}[${i}]`, dialect)
        }),
      )
    } else if (Array.isArray(value)) {
      if (value.length === 0)
        throw new PatternError(here, 'an empty list matches nothing; give at least one value or operator')
      node.fields.push({ key, tests: value.map((v, i) => compileAlternative(v, `${here}[${i}]`, dialect)) })
    } else if (isPlainObject(value)) {
      if (Object.keys(value).length === 0)
        throw new PatternError(here, 'an empty object; give nested fields to match')
      const op = Object.keys(value).find((k) => (OPERATORS as readonly string[]).includes(k))
      if (op) throw new PatternError(here, `operators go inside a list: write {"${key}": [{"${op}": ...}]}`)
      node.fields.push({ key, node: compileNode(value, here, dialect) })
    } else {
      throw new PatternError(
        here,
        `must be a list of values or an object of nested fields, not ${JSON.stringify(value)}; ` +
          `write {"${key}": [${JSON.stringify(value)}]}`,
      )
    }
  }
  return node
}

/** Tests on the leaf values found at a field. Every test except `exists` needs a present value. */
function compileAlternative(v: unknown, path: string, dialect: 'pipes' | 'eventbus'): LeafTest {
  if (v === null || typeof v === 'string' || typeof v === 'boolean')
    return (values) => values.some((x) => x === v)
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new PatternError(path, 'numbers must be finite')
    return (values) => values.some((x) => x === v)
  }
  if (Array.isArray(v)) throw new PatternError(path, 'a list inside a list; put the values in one list')
  if (!isPlainObject(v)) throw new PatternError(path, `unsupported value ${JSON.stringify(v)}`)
  const keys = Object.keys(v)
  if (keys.length !== 1)
    throw new PatternError(
      path,
      `one operator per object, found ${keys.length === 0 ? 'none' : keys.map((k) => `"${k}"`).join(', ')}; ` +
        'put alternatives as separate list items',
    )
  const op = keys[0]!
  const arg = v[op]
  switch (op) {
    case 'exists':
      if (typeof arg !== 'boolean') throw new PatternError(path, '"exists" takes true or false')
      return (values) => values.length > 0 === arg
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
    case 'wildcard': {
      const test = stringTest(op, arg, path)
      return (values) => values.some((x) => typeof x === 'string' && test(x))
    }
    case 'anything-but':
      return anythingBut(arg, path, dialect)
    case 'numeric': {
      const test = numericTest(arg, path)
      return (values) => values.some((x) => typeof x === 'number' && test(x))
    }
    case 'cidr': {
      const test = cidrTest(arg, path)
      return (values) => values.some((x) => typeof x === 'string' && test(x))
    }
    default:
      throw new PatternError(
        path,
        `unknown operator "${op}"; supported: ${OPERATORS.join(', ')} (and exact values). ` +
          'EventBridge has no "contains": use a wildcard such as {"wildcard": "*text*"} on an event bus',
      )
  }
}

function stringTest(op: string, arg: unknown, path: string): (s: string) => boolean {
  if (op === 'prefix' || op === 'suffix') {
    let ignoreCase = false
    let text = arg
    if (isPlainObject(arg)) {
      const keys = Object.keys(arg)
      if (
        keys.length !== 1 ||
        keys[0] !== 'equals-ignore-case' ||
        typeof arg['equals-ignore-case'] !== 'string'
      )
        throw new PatternError(path, `"${op}" takes a string or {"equals-ignore-case": "text"}`)
      ignoreCase = true
      text = arg['equals-ignore-case']
    }
    if (typeof text !== 'string') throw new PatternError(path, `"${op}" takes a string`)
    const t = ignoreCase ? text.toLowerCase() : text
    return (s) => {
      const subject = ignoreCase ? s.toLowerCase() : s
      return op === 'prefix' ? subject.startsWith(t) : subject.endsWith(t)
    }
  }
  if (op === 'equals-ignore-case') {
    if (typeof arg !== 'string') throw new PatternError(path, '"equals-ignore-case" takes a string')
    const t = arg.toLowerCase()
    return (s) => s.toLowerCase() === t
  }
  // wildcard
  if (typeof arg !== 'string') throw new PatternError(path, '"wildcard" takes a string such as "dir/*.png"')
  const re = wildcardRegex(arg, path)
  return (s) => re.test(s)
}

/** `*` = any run of characters; `\*` a literal star; `\\` a backslash; `**` is refused (as EventBridge does). */
function wildcardRegex(pattern: string, path: string): RegExp {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\\') {
      const next = pattern[i + 1]
      if (next !== '*' && next !== '\\')
        throw new PatternError(path, `wildcard "${pattern}": a backslash may only escape "*" or "\\"`)
      out += '\\' + next
      i++
    } else if (c === '*') {
      if (pattern[i + 1] === '*')
        throw new PatternError(path, `wildcard "${pattern}": consecutive wildcard characters are not allowed`)
      out += '[\\s\\S]*'
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    }
  }
  return new RegExp(`^${out}$`)
}

function anythingBut(arg: unknown, path: string, dialect: 'pipes' | 'eventbus'): LeafTest {
  if (typeof arg === 'string' || typeof arg === 'number') return (values) => values.some((x) => x !== arg)
  if (Array.isArray(arg)) {
    const allStrings = arg.every((a) => typeof a === 'string')
    const allNumbers = arg.every((a) => typeof a === 'number')
    if (arg.length === 0 || !(allStrings || allNumbers))
      throw new PatternError(path, '"anything-but" takes a non-empty list of only strings or only numbers')
    const set = new Set<unknown>(arg)
    return (values) => values.some((x) => !set.has(x))
  }
  if (isPlainObject(arg)) {
    const keys = Object.keys(arg)
    const op = keys[0]
    if (keys.length !== 1 || !['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(op!))
      throw new PatternError(
        path,
        '"anything-but" takes a value, a list, or one of {"prefix"}, {"suffix"}, {"equals-ignore-case"}, {"wildcard"}',
      )
    if (dialect === 'pipes')
      throw new PatternError(
        path,
        `"anything-but" with "${op}" works on event buses but not in EventBridge Pipes filters; ` +
          'match the allowed values instead (or compile with dialect "eventbus")',
      )
    const inner = arg[op!]
    // equals-ignore-case and wildcard also take lists here
    const items = Array.isArray(inner) && (op === 'equals-ignore-case' || op === 'wildcard') ? inner : [inner]
    if (items.length === 0) throw new PatternError(path, `"anything-but": {"${op}": []} is empty`)
    const tests = items.map((item) => stringTest(op!, item, path))
    // these operators only look at strings: a number or null is not a match for them
    return (values) => values.some((x) => typeof x === 'string' && !tests.some((t) => t(x)))
  }
  throw new PatternError(path, '"anything-but" takes a string, a number, a list, or an operator object')
}

function numericTest(arg: unknown, path: string): (n: number) => boolean {
  const usage = 'e.g. {"numeric": [">", 0, "<=", 5]} or {"numeric": ["=", 3]}'
  if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4))
    throw new PatternError(path, `"numeric" takes one or two [operator, number] pairs, ${usage}`)
  const checks: ((n: number) => boolean)[] = []
  let lower: number | undefined
  let upper: number | undefined
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i]
    const value = arg[i + 1]
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new PatternError(path, `"numeric": ${JSON.stringify(value)} is not a number, ${usage}`)
    switch (op) {
      case '=':
        if (arg.length !== 2) throw new PatternError(path, '"numeric": "=" cannot be combined with a range')
        checks.push((n) => n === value)
        break
      case '>':
      case '>=':
        if (lower !== undefined) throw new PatternError(path, '"numeric": two lower bounds')
        lower = value
        checks.push(op === '>' ? (n) => n > value : (n) => n >= value)
        break
      case '<':
      case '<=':
        if (upper !== undefined) throw new PatternError(path, '"numeric": two upper bounds')
        upper = value
        checks.push(op === '<' ? (n) => n < value : (n) => n <= value)
        break
      default:
        throw new PatternError(
          path,
          `"numeric": unknown comparison ${JSON.stringify(op)}; use =, <, <=, > or >=`,
        )
    }
  }
  if (lower !== undefined && upper !== undefined && lower >= upper)
    throw new PatternError(
      path,
      `"numeric": the range is empty (lower bound ${lower} ≥ upper bound ${upper})`,
    )
  return (n) => checks.every((c) => c(n))
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0)
}

function cidrTest(arg: unknown, path: string): (s: string) => boolean {
  const m = typeof arg === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(arg) : null
  const base = m ? ipv4(m[1]!) : undefined
  const bits = m ? Number(m[2]) : NaN
  if (base === undefined || !(bits >= 0 && bits <= 32))
    throw new PatternError(
      path,
      `"cidr" takes an IPv4 block such as "10.0.0.0/24" (IPv6 is not supported locally)`,
    )
  const size = 2 ** (32 - bits)
  const start = Math.floor(base / size) * size
  return (s) => {
    const ip = ipv4(s)
    return ip !== undefined && ip >= start && ip < start + size
  }
}

/** Leaf values at a field: arrays flattened (nested arrays too), objects inside arrays skipped. */
function leaves(value: unknown): Leaf[] {
  if (value === undefined) return []
  if (Array.isArray(value)) return value.flatMap((v) => (isPlainObject(v) ? [] : leaves(v)))
  if (isPlainObject(value)) return []
  return [value as Leaf]
}

/** Objects at a field for nested matching: the object itself, or each object inside an array. */
function objects(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap(objects)
  return isPlainObject(value) ? [value] : []
}

function evaluate(node: Node, event: unknown): boolean {
  const obj = isPlainObject(event) ? event : {}
  for (const field of node.fields) {
    const value = Object.prototype.hasOwnProperty.call(obj, field.key) ? obj[field.key] : undefined
    if (field.node) {
      const candidates = objects(value)
      // no object here: nested fields are all absent (so only exists:false can match)
      if (candidates.length === 0) {
        if (!evaluate(field.node, {})) return false
      } else if (!candidates.some((c) => evaluate(field.node!, c))) return false
    } else {
      const values = leaves(value)
      if (!field.tests!.some((t) => t(values, values.length > 0))) return false
    }
  }
  return node.ors.every((group) => group.some((alt) => evaluate(alt, obj)))
}

/**
 * The event a pipe's filter sees for an SQS record: the record, with `body` parsed when it is JSON
 * (Pipes and Lambda event filtering only support filtering SQS messages on the `body` key).
 */
export function sqsFilterEvent(record: { body: string } & Record<string, unknown>): Record<string, unknown> {
  let body: unknown = record.body
  try {
    body = JSON.parse(record.body)
  } catch {
    // plain-text body: matched as a string
  }
  return { ...record, body }
}
