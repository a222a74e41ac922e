/**
 * Phone numbers never reach a log line in full (BRIEF: "Phone numbers never appear in logs").
 *
 * The rule (issue #15): at most the last 2 digits of a number stay visible, wherever it appears —
 * a field value, an id built from it (a CRM export's contact id equal to the number, the call id
 * derived from it), a message — and whether or not it starts with `+`. Two digits are enough to
 * match a support ticket against a call and too few to call anyone. The earlier rule kept 5
 * leading and 3 trailing digits, which left 7–8 digit numbers (+50051234, +2908999) whole.
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
 * What a phone number can look like inside text: a run of 7–15 digits (E.164's shortest national
 * numbers have 7 digits, its longest 15), with or without '+', inside a word or not (`c-447700900123`,
 * `call-447700900123-2`); or a '+' number written with the separators people type
 * (`+44 20 7946 0001`, `+1 (212) 555-0100`). Longer digit runs are not numbers we dial and are left,
 * and so is a 13-digit run starting with 1 and no '+': country code 1 (NANP) numbers have 11
 * digits, so it is never a number — it is what epoch-millisecond timestamps in ids look like.
 */
const DIGIT_RUN = /\+?(?<!\d)\d{7,15}(?!\d)/g
const FORMATTED = /\+\d[\d\s().-]{5,20}\d/g

/** Masks every phone number inside free text (log messages, ids, error messages, request bodies). */
export function maskPhonesIn(text: string): string {
  return text
    .replace(FORMATTED, (match) => {
      const digits = match.replace(/\D/g, '').length
      return digits >= 7 && digits <= 15 ? maskPhone(match) : match
    })
    .replace(DIGIT_RUN, (match) => (/^1\d{12}$/.test(match) ? match : maskPhone(match)))
}
