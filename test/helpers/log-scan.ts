/**
 * The log scan of issue #15: finds a contact's phone number, in any form, in captured output.
 *
 * Every e2e and fault test dials only reserved test numbers (src/tasks/test-numbers.ts:
 * +1 NXX 555-01XX), so the scan needs no list of contacts: it looks for that numbering shape in
 * every form a log line could hold one — E.164 (`+12125550101`), digits only with or without the
 * country code (`12125550101`, `2125550101`, also inside an id: `crm-2125550101`), national with
 * separators (`(212) 555-0101`, `212.555.0101`, `212 555 0101`), the local 7 digits (`555-0101`) —
 * plus any mask that left 3 or more digits visible (`*******0101`: the rule keeps at most 2).
 * Numbers outside the reserved range (a test's own) are passed as `phones` and looked up in the
 * same forms. The scan is written without src/observability/mask.ts, so a masking bug cannot hide
 * itself; test/unit/log-scan.test.ts proves it finds every form in unmasked Powertools output.
 */

/** '-', '.', ' ', '(' or ')' between digit groups, as people type numbers */
const SEP = String.raw`[\s().-]{0,2}`

/** +1 NXX 555 01XX in any form (country code, area code optional; separators anywhere between groups). */
const RESERVED = new RegExp(
  String.raw`(?<![\d*])(?:\+?1${SEP})?(?:\(?[2-9]\d\d\)?${SEP})?555${SEP}01\d\d(?!\d)`,
  'g',
)

/** A mask ('*') followed by 3 or more visible digits: more than the rule's last 2. */
const WIDE_MASK = /\*[\s().-]{0,2}\d{3,}/g

/** The digits of `phone` as a pattern accepting separators between any two of them. */
function anyForm(digits: string): string {
  return digits.split('').join(SEP)
}

/** Patterns for numbers of a test's own (not reserved): full digits, and the last 7 (every national form ends so). */
function patternsOf(phones: readonly string[]): RegExp[] {
  return phones.map((p) => {
    const digits = p.replace(/\D/g, '')
    return new RegExp(`(?:${anyForm(digits)}|${anyForm(digits.slice(-7))})(?!\\d)`, 'g')
  })
}

/**
 * The one line that may hold a whole reserved number: `dialctl dev`'s banner telling the operator
 * what to type (`push --campaign demo --phone +12025550199`) — a command to copy, not a log line.
 */
const SUGGESTED_COMMAND = /^Try, in another terminal: \S+ push --campaign \S+ --phone \+\d+$/

export interface Leak {
  /** what gave it away: 'number' (a reserved or listed number) or 'mask' (3+ digits after a mask) */
  kind: 'number' | 'mask'
  found: string
  line: string
}

/**
 * Every leak in `text` (one entry per finding), each with its line (cut at 300 characters).
 * `phones`: numbers outside the reserved test range that the caller's test used.
 */
export function findPhoneLeaks(text: string, phones: readonly string[] = []): Leak[] {
  const extra = patternsOf(phones)
  const leaks: Leak[] = []
  for (const line of text.split('\n')) {
    if (!/\d/.test(line) || SUGGESTED_COMMAND.test(line.trim())) continue
    const cut = line.slice(0, 300)
    for (const m of line.matchAll(RESERVED)) leaks.push({ kind: 'number', found: m[0], line: cut })
    for (const m of line.matchAll(WIDE_MASK)) leaks.push({ kind: 'mask', found: m[0], line: cut })
    for (const re of extra)
      for (const m of line.matchAll(re)) leaks.push({ kind: 'number', found: m[0], line: cut })
  }
  return leaks
}

/** One line per leak, for an assertion message. */
export function describeLeaks(leaks: readonly Leak[]): string {
  return leaks
    .map((l) => `${l.kind === 'mask' ? 'mask keeps 3+ digits' : 'number'} "${l.found}" in: ${l.line}`)
    .join('\n')
}
