import { createServer, type Server } from 'node:http'
import { SignatureV4 } from '@smithy/signature-v4'
import { NodeSha256 } from '../../src/control/s3-object.js'

/**
 * A fake STS regional endpoint for tests: it answers a presigned GetCallerIdentity only when the
 * SigV4 signature is right for one of its known keys (recomputed here with the SDK's signer over
 * exactly what was received: host, path, query, the signed headers), as STS does; the identity
 * is the one that key belongs to. Every request is recorded (URL and headers) for assertions.
 */
export interface FakeIdentity {
  secretAccessKey: string
  arn: string
  account: string
  userId: string
}

export interface FakeStsCall {
  url: string
  headers: Record<string, string>
}

const XML = (who: FakeIdentity) =>
  `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${who.arn}</Arn><UserId>${who.userId}</UserId><Account>${who.account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`

const ERROR = (code: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${code}</Message></Error></ErrorResponse>`

/**
 * The Host checked is the one the request was sent to (the URL's), as STS checks the Host header
 * it receives — never a host the test supplies, so a host the two halves disagree on fails here.
 */
export function fakeSts(keys: Record<string, FakeIdentity>): {
  fetch: typeof fetch
  calls: FakeStsCall[]
} {
  const calls: FakeStsCall[] = []
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input instanceof Request ? input.url : input))
    const headers = Object.fromEntries(
      Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    )
    calls.push({ url: url.toString(), headers })
    const q = Object.fromEntries(url.searchParams)
    const [keyId, , region, service] = (q['X-Amz-Credential'] ?? '').split('/')
    const who = keyId ? keys[keyId] : undefined
    if (!who || q.Action !== 'GetCallerIdentity' || service !== 'sts')
      return new Response(ERROR('InvalidClientTokenId'), { status: 403 })
    const signedHeaders = (q['X-Amz-SignedHeaders'] ?? '').split(';')
    const { 'X-Amz-Signature': signature, ...unsigned } = q
    for (const k of Object.keys(unsigned)) if (k.startsWith('X-Amz-')) delete unsigned[k]
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: keyId!,
        secretAccessKey: who.secretAccessKey,
        ...(q['X-Amz-Security-Token'] ? { sessionToken: q['X-Amz-Security-Token'] } : {}),
      },
      region: region!,
      service: 'sts',
      sha256: NodeSha256,
    })
    const d = q['X-Amz-Date']!
    const signingDate = new Date(
      `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
    )
    const again = await signer.presign(
      {
        method: init?.method ?? 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: unsigned,
        headers: Object.fromEntries(
          signedHeaders.map((h) => [h, h === 'host' ? url.host : (headers[h] ?? '')]),
        ),
      },
      { expiresIn: Number(q['X-Amz-Expires']), signingDate },
    )
    if (again.query?.['X-Amz-Signature'] !== signature)
      return new Response(ERROR('SignatureDoesNotMatch'), { status: 403 })
    return new Response(XML(who), { status: 200, headers: { 'content-type': 'text/xml' } })
  }
  return { fetch: fake as typeof fetch, calls }
}

/** The header invokeBundle's route (test/helpers/lambda-bundle.ts) names the addressed host in. */
export const ROUTED_HOST_HEADER = 'x-test-routed-host'

/**
 * The fake as an HTTP server on loopback (for a Lambda bundle run in its own process). The bundle's
 * fetch reaches it through invokeBundle's route, which stands in for DNS: the request keeps the
 * URL the function addressed, named in ROUTED_HOST_HEADER, and that is the host verified.
 */
export function fakeStsServer(keys: Record<string, FakeIdentity>): Server {
  const sts = fakeSts(keys)
  return createServer((req, res) => {
    const { [ROUTED_HOST_HEADER]: routed, ...headers } = Object.fromEntries(
      Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === 'string'),
    )
    if (!routed) return void res.writeHead(400).end('not routed by invokeBundle')
    void sts
      .fetch(`https://${routed}${req.url}`, { method: req.method ?? 'GET', headers })
      .then(async (r) => res.writeHead(r.status, { 'content-type': 'text/xml' }).end(await r.text()))
  })
}
