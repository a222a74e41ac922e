/**
 * Phone numbers never reach a log line in full: "+972501234567" → "+97250****567".
 * Country code and a few leading digits stay (enough to tell trunks/regions apart when
 * debugging), the subscriber part is hidden, the last three digits help match a support ticket.
 */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/^\+/, '')
  if (digits.length <= 6) return '+' + '*'.repeat(digits.length)
  return '+' + digits.slice(0, 5) + '*'.repeat(Math.max(digits.length - 8, 1)) + digits.slice(-3)
}

// "+" followed by 8–15 digits, optionally with the separators people type.
const PHONE_IN_TEXT = /\+\d[\d\s().-]{6,18}\d/g

/** Masks every E.164-looking number inside free text (error messages, request bodies). */
export function maskPhonesIn(text: string): string {
  return text.replace(PHONE_IN_TEXT, (match) => {
    const digits = match.replace(/\D/g, '')
    return digits.length >= 8 && digits.length <= 15 ? maskPhone('+' + digits) : match
  })
}
