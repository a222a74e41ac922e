import { parsePhoneNumberFromString } from 'libphonenumber-js'
import { z } from 'zod'

/**
 * Numbers found valid lately. A task's number is checked where it enters each hop (the queue body,
 * the dialer's event, the worker's POST), three times in one process locally; libphonenumber's
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

export const PhoneNumber = z
  .string()
  .refine(isE164, { message: 'must be a valid E.164 phone number, e.g. +972501234567' })

export type PhoneNumber = z.infer<typeof PhoneNumber>
