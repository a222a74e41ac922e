/**
 * Phone numbers never reach a log line in full (BRIEF: "Phone numbers never appear in logs").
 *
 * The rule (issue #15): at most the last 2 digits of a number stay visible, wherever it appears —
 * a field value, an id built from it (a CRM export's contact id equal to the number, the call id
 * derived from it), a message — whether or not it starts with `+`, and in whatever national form a
 * person typed it (`212-555-0101`, `(212) 555-0101`, `212.555.0101`, `0044 20 7946 0958`). Two
 * digits are enough to match a support ticket against a call and too few to call anyone.
 *
 * Why a digit rule and not libphonenumber-js's `findPhoneNumbersInText`: the library finds only
 * numbers valid for one default region (a national `212 555 0101` needs `US`, `0044 …` is missed
 * under `US`), misses 7–8 digit numbers without `+` (`50051234`), and costs about 290 µs per string
 * against about 9 µs for the rule below — 30× more, on every string of every log line
 * (test/bench/mask.bench.ts, both measured in the same run). A log line must not depend on guessing the callee's region.
 * The rule over-masks a few things that are not numbers (a 7+ digit count written into a message,
 * an epoch-second value); that is harmless, and numeric JSON fields (counts, durations) are never
 * touched because the logger masks strings only.
 */

/** "+972501234567" → "+**********67"; a leading '+' is kept, every digit but the last 2 hidden. */
export function maskPhone(phone: string): string {
  const digits = (phone.match(/\d/g) ?? []).length
  let seen = 0
  // on short strings keep nothing: 2 visible digits of a 4-digit string is half of it
  const keep = digits > 4 ? 2 : 0
  return phone.replace(/\d/g, (d) => (++seen > digits - keep ? d : '*'))
}

/**
 * Things made of digits that stay readable, tried before a number at each position: ISO 8601 dates
 * and times (`2026-11-30T21:06:29.123Z`, `2026-11-30 21:06`), IPv4 addresses (`127.0.0.1`), and
 * hex tokens of 16+ characters with a letter (trace and span ids, hashes).
 */
const KEEP = [
  String.raw`\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?`,
  String.raw`(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])`,
  String.raw`(?<![0-9A-Za-z])(?=[0-9a-fA-F]{0,63}[a-fA-F])(?=[0-9a-fA-F]{0,63}\d)[0-9a-fA-F]{16,64}(?![0-9A-Za-z])`,
].join('|')

/**
 * A cluster of digits as people write numbers: an optional '+', digit groups joined by at most two
 * of space, '-', '.', '(' and ')' (`+1 (212) 555-0101`, `0044 20 7946 0958`), inside a word or not.
 */
const CLUSTER = String.raw`\+?\(?\d(?:[ ().\-]{0,2}\d)*`
const TEXT = new RegExp(`(${KEEP})|(${CLUSTER})`, 'g')

/** A cluster with at least this many digits is a number (E.164's shortest national numbers). */
const MIN_DIGITS = 7

/**
 * A digit run that is an id, not a number, cuts a cluster in parts: 16+ digits (E.164 allows 15)
 * and 13 digits starting with 1 (epoch milliseconds; a country code 1 number has 11 digits).
 */
const NOT_A_NUMBER = /(?<!\d)(?:\d{16,}|1\d{12})(?!\d)/g

/** One joined part of a cluster: masked when it holds enough digits to be a number. */
function maskPart(part: string): string {
  const digits = part.replace(/\D/g, '').length
  if (digits < MIN_DIGITS) return part
  // a decimal (`1234.5678 ms`): one '.' and no other separator
  if (/^\d+\.\d+$/.test(part)) return part
  return maskPhone(part)
}

function maskCluster(cluster: string): string {
  let out = ''
  let last = 0
  for (const m of cluster.matchAll(NOT_A_NUMBER)) {
    // a '+' in front makes it a number after all (a 13-digit '+1…' is no epoch)
    if (m.index === 1 && cluster.startsWith('+')) continue
    out += maskPart(cluster.slice(last, m.index)) + m[0]
    last = m.index + m[0].length
  }
  return out + maskPart(cluster.slice(last))
}

/** Masks every phone number inside free text (log messages, ids, error messages, request bodies). */
export function maskPhonesIn(text: string): string {
  // fast path: most strings of a log line (levels, names, short ids) hold no 7 digits at all
  if (!/\d/.test(text)) return text
  return text.replace(TEXT, (match: string, keep: string | undefined) => (keep ? match : maskCluster(match)))
}
