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
  return timingSafeEqual(given, expectedDigest(token)) && match !== null
}

/**
 * The token's digest, kept for the token last asked about: a worker has one token, and hashing it
 * again on every POST /dial was a second SHA-256 per request for the same answer.
 */
let expected: { token: string; digest: Buffer } | undefined
function expectedDigest(token: string): Buffer {
  if (expected?.token !== token) expected = { token, digest: createHash('sha256').update(token).digest() }
  return expected.digest
}
