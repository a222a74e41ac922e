import { parsePhoneNumberFromString } from 'libphonenumber-js'
import { z } from 'zod'

/**
 * E.164 with a real numbering-plan check: "+972501234567" passes, "+1555" or "0501234567" do not.
 * We insist the input is already in canonical E.164 form, because the number travels through the
 * queue, the blacklist and the trunk, and each of them must see the same string.
 */
export function isE164(value: string): boolean {
  if (!/^\+[1-9]\d{6,14}$/.test(value)) return false
  const parsed = parsePhoneNumberFromString(value)
  return parsed !== undefined && parsed.isValid() && parsed.number === value
}

export const PhoneNumber = z
  .string()
  .refine(isE164, { message: 'must be a valid E.164 phone number, e.g. +972501234567' })

export type PhoneNumber = z.infer<typeof PhoneNumber>
