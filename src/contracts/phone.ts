import { parsePhoneNumberFromString } from 'libphonenumber-js'
import { z } from 'zod'

/**
 * Numbers found valid lately. A task's number is checked where it enters each hop (the queue body,
 * the dialer's event on AWS, the worker's POST), twice in one process locally; libphonenumber's
 * parse is most of a check's cost, and the answer for a string never changes. Bounded: cleared
 * when full.
 */
const knownValid = new Set<string>()
const KNOWN_VALID_MAX = 10_000

/**
 * E.164 with a real numbering-plan check: "+972501234567" passes, "+1555" or "0501234567" do not.
 * We insist the input is already in canonical E.164 form, because the number travels through the
 * queue, the blacklist and the trunk, and each of them must see the same string.
 */
export function isE164(value: string): boolean {
  if (knownValid.has(value)) return true
  if (!/^\+[1-9]\d{6,14}$/.test(value)) return false
  const parsed = parsePhoneNumberFromString(value)
  const valid = parsed !== undefined && parsed.isValid() && parsed.number === value
  if (valid) {
    if (knownValid.size >= KNOWN_VALID_MAX) knownValid.clear()
    knownValid.add(value)
  }
  return valid
}

/**
 * How an E.164 number is written, for error messages and hints. A description, not an example
 * number: every message passes through the masker (src/observability/mask.ts keeps the last 2
 * digits of any run of 7 or more, by design), which printed "e.g. +972501234567" as
 * "e.g. +**********67" (issue #15). The short country codes stay readable.
 */
export const E164_FORMAT =
  "'+', the country code, then the number without its leading 0 (a UK number starts +44, a US one +1)"

export const PhoneNumber = z
  .string()
  .refine(isE164, { message: `must be a valid E.164 phone number: ${E164_FORMAT}` })

export type PhoneNumber = z.infer<typeof PhoneNumber>
