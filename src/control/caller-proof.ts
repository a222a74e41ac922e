import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { errorMessage, OperatorError } from '../errors.js'
import { stsHost } from './sts-host.js'

/**
 * Who called the control function, proved by AWS itself rather than claimed by the caller.
 *
 * The pattern is HashiCorp Vault's AWS IAM auth method and aws-iam-authenticator's token: the CLI
 * signs (SigV4, query-string presigning) an `sts:GetCallerIdentity` request with its own
 * credentials and sends only the signature parameters; the function executes that request against
 * STS and records the ARN STS answers with. A caller cannot name someone else: it would need that
 * identity's secret key to sign.
 *
 * What the caller controls is deliberately small (no URL, no host, no action):
 *  - the function always calls its own region's endpoint `https://sts.<region>.<dnsSuffix>/`
 *    (stsHost — the host the CLI signs for; no override, or the signed Host would not match)
 *    with `Action=GetCallerIdentity&Version=2011-06-15` fixed here; the caller supplies only the
 *    `X-Amz-*` signature parameters, each checked against its exact format (no SSRF: the request
 *    goes to STS or nowhere);
 *  - the signature must cover the header `x-dialctl-stage: <stage>`, which the function sends with
 *    its own stage name (Vault's `X-Vault-AWS-IAM-Server-ID`): a proof made for another stage, or
 *    for another service that uses this pattern, fails STS's signature check;
 *  - it lasts at most PROOF_MAX_SECONDS and is refused locally once expired or dated in the future.
 *
 * Sources: AWS Signature Version 4, "Authenticating requests: using query parameters"
 * (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html — the same scheme for
 * every service); STS API reference, GetCallerIdentity ("No permissions are required to perform
 * this operation"); Vault docs, "AWS auth method — IAM auth method".
 */

export const STS_API_VERSION = '2011-06-15'
/** The header the signature must cover, carrying the stage name. */
export const STAGE_HEADER = 'x-dialctl-stage'
/** A proof is made for each call; a minute covers the Invoke's trip with room for clock skew. */
export const PROOF_SECONDS = 60
/** The longest validity the function accepts (SigV4 allows up to 7 days; we need one call). */
export const PROOF_MAX_SECONDS = 900
/** How far in the future a proof's date may be (the caller's clock ahead of the function's). */
const CLOCK_SKEW_MS = 5 * 60_000

export const CallerProof = z
  .object({
    'X-Amz-Algorithm': z.literal('AWS4-HMAC-SHA256'),
    // access key id / yyyymmdd / region / sts / aws4_request
    'X-Amz-Credential': z.string().regex(/^[A-Z0-9]{16,128}\/\d{8}\/[a-z0-9-]{1,32}\/sts\/aws4_request$/),
    'X-Amz-Date': z.string().regex(/^\d{8}T\d{6}Z$/),
    'X-Amz-Expires': z.string().regex(/^\d{1,6}$/),
    'X-Amz-SignedHeaders': z.literal(`host;${STAGE_HEADER}`),
    'X-Amz-Signature': z.string().regex(/^[0-9a-f]{64}$/),
    // temporary credentials (roles, SSO): base64-ish, a few KB at most
    'X-Amz-Security-Token': z
      .string()
      .max(8192)
      .regex(/^[A-Za-z0-9+/=]+$/)
      .optional(),
  })
  .strict()
export type CallerProof = z.infer<typeof CallerProof>

/** The identity STS vouched for: what the audit trails record as the actor. */
export interface VerifiedCaller {
  arn: string
  account: string
  userId: string
}

export interface VerifyOptions {
  /** the function's region (AWS_REGION): the STS endpoint it calls, and the proof's scope */
  region: string
  /** the function's stage (DIALCTL_STAGE), sent as the signed STAGE_HEADER */
  stage: string
  fetch?: typeof fetch
  now?: () => Date
  /** bound on the STS call */
  timeoutMs?: number
}

const CHECK_CLOCK_AND_CREDENTIALS =
  "Check that this machine's clock is right and that your credentials work (`aws sts get-caller-identity`), then run the command again with a current dialctl."

/**
 * STS's SignatureDoesNotMatch: the key is known, so neither the clock (that is an expiry) nor an
 * unknown key is the lead. The plausible causes, most likely first.
 */
const SIGNATURE_MISMATCH =
  'Likely causes, in order: (1) this dialctl and the stage run different versions, which sign and send different requests — install the version the stage was deployed with, or redeploy; ' +
  '(2) the profile holds a secret key that does not belong to its access key id (a rotated or hand-edited key) — check with `aws sts get-caller-identity --profile <profile>`; ' +
  '(3) a proxy between the control function and STS rewrites the request. Then run the command again.'

function refused(
  message: string,
  code = 'CALLER_UNVERIFIED',
  next = CHECK_CLOCK_AND_CREDENTIALS,
): OperatorError {
  return new OperatorError(`The control function could not verify who is calling: ${message}.`, next, 1, code)
}

/** yyyymmddThhmmssZ → epoch ms. */
function amzDateMs(date: string): number {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date)!
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
}

/** The checks made before any network call: shape, scope, validity window. */
function checkProof(raw: unknown, options: VerifyOptions): CallerProof {
  if (raw === undefined)
    throw refused('the request carries no caller proof (a dialctl older than the stage?)')
  const parsed = CallerProof.safeParse(raw)
  if (!parsed.success) throw refused(`the caller proof is malformed (${describeZodError(parsed.error)})`)
  const proof = parsed.data
  const scopeRegion = proof['X-Amz-Credential'].split('/')[2]
  if (scopeRegion !== options.region)
    throw refused(`the proof is signed for region ${scopeRegion}, the stage runs in ${options.region}`)
  const expires = Number(proof['X-Amz-Expires'])
  if (expires < 1 || expires > PROOF_MAX_SECONDS)
    throw refused(`the proof's validity (${expires} s) is outside 1–${PROOF_MAX_SECONDS} s`)
  const signedAt = amzDateMs(proof['X-Amz-Date'])
  const now = (options.now ?? (() => new Date()))().getTime()
  if (signedAt - CLOCK_SKEW_MS > now) throw refused('the proof is dated in the future')
  if (signedAt + expires * 1000 < now) throw refused('the proof has expired')
  return proof
}

/** The value of one element of STS's XML answer (a fixed, flat document from STS itself). */
function xmlText(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]{1,2048})</${tag}>`).exec(xml)?.[1]
}

/**
 * Executes the caller's presigned GetCallerIdentity against the function's regional STS endpoint
 * and returns the identity STS answers with. Throws an OperatorError (code CALLER_UNVERIFIED) for
 * a missing, malformed, expired or rejected proof, CALLER_STS_UNREACHABLE when STS does not answer.
 */
export async function verifyCallerProof(raw: unknown, options: VerifyOptions): Promise<VerifiedCaller> {
  const proof = checkProof(raw, options)
  const url = new URL(`https://${stsHost(options.region)}/`)
  url.searchParams.set('Action', 'GetCallerIdentity')
  url.searchParams.set('Version', STS_API_VERSION)
  for (const [k, v] of Object.entries(proof)) if (v !== undefined) url.searchParams.set(k, v)
  let response: Response
  let body: string
  try {
    response = await (options.fetch ?? fetch)(url, {
      method: 'GET',
      headers: { [STAGE_HEADER]: options.stage },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    })
    body = await response.text()
  } catch (error) {
    throw refused(`STS did not answer (${errorMessage(error)})`, 'CALLER_STS_UNREACHABLE')
  }
  if (!response.ok) {
    const code = xmlText(body, 'Code') ?? `HTTP ${response.status}`
    throw refused(
      `STS rejected the proof (${code})`,
      'CALLER_UNVERIFIED',
      code === 'SignatureDoesNotMatch' ? SIGNATURE_MISMATCH : CHECK_CLOCK_AND_CREDENTIALS,
    )
  }
  const arn = xmlText(body, 'Arn')
  const account = xmlText(body, 'Account')
  const userId = xmlText(body, 'UserId')
  if (!arn?.startsWith('arn:') || !account || !userId) throw refused('STS answered without an identity')
  return { arn, account, userId }
}
