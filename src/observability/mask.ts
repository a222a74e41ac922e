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
  // Two passes over the characters, no regex: this runs for every task's log context (issue #17,
  // about 5× faster than a match and a replace with a callback). A digit is ASCII 0-9, as \d.
  let digits = 0
  for (let i = 0; i < phone.length; i++) if (isDigit(phone.charCodeAt(i))) digits++
  // on short strings keep nothing: 2 visible digits of a 4-digit string is half of it
  const hidden = digits > 4 ? digits - 2 : digits
  let out = ''
  let seen = 0
  for (let i = 0; i < phone.length; i++) {
    const c = phone.charCodeAt(i)
    out += isDigit(c) && seen++ < hidden ? '*' : phone[i]!
  }
  return out
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/**
 * Things made of digits that stay readable, tried before a number at each position: ISO 8601 dates
 * and times (`2026-11-30T21:06:29.123Z`, `2026-11-30 21:06`), IPv4 addresses (`127.0.0.1`), UUIDs
 * as a whole (RFC 9562's 8-4-4-4-12 hex form: queue message ids, any case, even a group of digits
 * only — `…-a3480873ebc1` was masked as `…-a*****73ebc1` when read group by group), and hex tokens
 * of 16+ characters with a letter (trace and span ids, hashes). A shorter hex token is not kept:
 * `c12125550101` may be a number behind a prefix letter.
 */
const KEEP = [
  String.raw`(?<![0-9A-Za-z])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![0-9A-Za-z])`,
  String.raw`\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?`,
  String.raw`(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])`,
  String.raw`(?<![0-9A-Za-z])(?=[0-9a-fA-F]{0,63}[a-fA-F])(?=[0-9a-fA-F]{0,63}\d)[0-9a-fA-F]{16,64}(?![0-9A-Za-z])`,
].join('|')

/**
 * A readable call id, `call.<campaign>.<contact>.<attempt>` (callIdFor in src/contracts/messages.ts:
 * each id escaped to [A-Za-z0-9-] plus `_XX` hex escapes, so the three '.' are the only ones).
 * Recognised as a whole so its '.'s never join digits of different parts into one "number"
 * (`call.spring-2026.17.1` stays intact, issue #15 review F2) and the attempt is never taken for
 * the decimals of a contact id that is a phone number (F1).
 */
const CALL_ID = String.raw`(?<![A-Za-z0-9_.])call\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.\d{1,10}(?![A-Za-z0-9_]|[.-]\d)`

/**
 * What joins two digit groups of one number as people and CRMs write them: up to two of space
 * (also no-break and thin), '-', the Unicode dashes, '.', '_', '/', '(' and ')' (`+1 (212) 555-0101`,
 * `212_555_0101`, `212/555/0101`), or one of '-', '.', '_', '/' with a space on each side
 * (`212 - 555 - 0101`); a ')' before and a '(' after (`(212) - 555`).
 */
const SEP = String.raw`[ \u00a0\u2009\u202f()./_\-\u2010-\u2015]`
const JOIN = String.raw`\)?(?:${SEP}{0,2}|[ \u00a0][./_\-\u2010-\u2015][ \u00a0])\(?`
/** A cluster of digits as people write numbers: an optional '+', digit groups joined by JOIN. */
const CLUSTER = String.raw`\+?\(?\d(?:${JOIN}\d)*`
const TEXT = new RegExp(`(${KEEP})|(${CLUSTER})`, 'g')
const TEXT_AND_CALL_IDS = new RegExp(`(${KEEP})|(${CALL_ID})|(${CLUSTER})`, 'g')

/** A cluster with at least this many digits is a number (E.164's shortest national numbers). */
const MIN_DIGITS = 7

/**
 * A digit run that is an id, not a number, cuts a cluster in parts: 16+ digits (E.164 allows 15)
 * and 13 digits starting with 1 (epoch milliseconds; a country code 1 number has 11 digits).
 * Except a run starting with '0' of at most 19 digits: an international (IDD) prefix and up to 15
 * digits of E.164 — `00` (most of the world), `010` (Japan), `011` (NANP), `0011` (Australia),
 * `00xx` carrier-select prefixes (Brazil, Colombia) — ITU-T E.164 and the ITU list of national
 * and international prefixes.
 */
const NOT_A_NUMBER = /(?<!\d)(?:(?!0\d{15,18}(?!\d))\d{16,}|1\d{12})(?!\d)/g

/**
 * A decimal that stays readable (`1234.567 ms`, `0.25`): one '.', fewer than MIN_DIGITS digits
 * before it and at most 3 after it (or a leading `0.`). A phone number written with one dot
 * (`555.0101`, `12125550101.0` — a number and an attempt) is not one.
 */
const DECIMAL = new RegExp(String.raw`^(?:\d{1,${MIN_DIGITS - 1}}\.\d{1,3}|0\.\d+)$`)

/** One joined part of a cluster: masked when it holds enough digits to be a number. */
function maskPart(part: string): string {
  const digits = part.replace(/\D/g, '').length
  if (digits < MIN_DIGITS) return part
  if (DECIMAL.test(part)) return part
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

/** The free-text rule alone (no call ids): every number of `text` keeps at most its last 2 digits. */
function maskText(text: string): string {
  return text.replace(TEXT, (match: string, keep: string | undefined) => (keep ? match : maskCluster(match)))
}

/**
 * The contact segment of a call id, masked by the text rule applied to that segment alone, read as
 * the id it escapes (`_2b1_20212…` is `+1 212…`): digits keep their place, escapes stay as they are.
 * A contact id that is a phone number is masked (`call.gala._2b*********01.0`); `17` stays.
 */
function maskContactSegment(segment: string): string {
  const tokens = segment.match(/_[0-9a-f]{2}|[^_]|_/g) ?? []
  const decoded = tokens.map((t) => {
    if (t.length !== 3) return t
    const byte = parseInt(t.slice(1), 16)
    // a non-ASCII byte is part of a letter: never a digit or a separator
    return byte < 0x80 ? String.fromCharCode(byte) : 'x'
  })
  const masked = maskText(decoded.join(''))
  return tokens.map((t, i) => (t.length === 1 && /\d/.test(t) ? masked[i] : t)).join('')
}

function maskCallId(callId: string, contact: string): string {
  // the contact segment is the second of the three '.'-separated parts after "call."
  const end = callId.lastIndexOf('.')
  const start = end - contact.length
  return callId.slice(0, start) + maskContactSegment(contact) + callId.slice(end)
}

/** Masks every phone number inside free text (log messages, ids, error messages, request bodies). */
export function maskPhonesIn(text: string): string {
  // fast path: most strings of a log line (levels, names, short ids) hold no 7 digits at all
  if (!/\d/.test(text)) return text
  return text.replace(
    TEXT_AND_CALL_IDS,
    (match: string, keep: string | undefined, callId: string | undefined, contact: string | undefined) => {
      if (keep) return match
      if (callId && contact !== undefined) return maskCallId(callId, contact)
      return maskCluster(match)
    },
  )
}
