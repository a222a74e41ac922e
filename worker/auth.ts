import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * True when the Authorization header carries `Bearer <token>`. Both sides are hashed first so
 * the comparison is constant-time whatever the lengths (timingSafeEqual needs equal lengths,
 * and comparing lengths first would leak the token's length).
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header || token.length === 0) return false
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  const given = createHash('sha256')
    .update(match?.[1] ?? '')
    .digest()
  const expected = createHash('sha256').update(token).digest()
  return timingSafeEqual(given, expected) && match !== null
}
