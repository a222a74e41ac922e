import { createHash, createHmac } from 'node:crypto'
import { Readable } from 'node:stream'
import { SignatureV4 } from '@smithy/signature-v4'
import type {
  AwsCredentialIdentity,
  AwsCredentialIdentityProvider,
  Checksum,
  SourceData,
} from '@smithy/types'
import { errorMessage, OperatorError } from '../errors.js'

/**
 * The two S3 calls dialctl makes — PutObject of a contacts file by the CLI, GetObject of it by the
 * control function — as single SigV4-signed HTTPS requests (the SDK's own signer,
 * @smithy/signature-v4, already installed with the AWS SDK), streamed both ways.
 *
 * Single PUT, not multipart: S3 takes up to 5 GB in one PutObject (S3 User Guide, "Uploading
 * objects": "upload a single object of up to 5 GB"); a contacts file is a few hundred MB at the
 * very most (10 million rows of ~60 bytes). Payloads are not hashed (`UNSIGNED-PAYLOAD`, allowed
 * over HTTPS; S3 API "Signature calculations … x-amz-content-sha256"), so a file is read once.
 */

export const S3_SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3

/** node:crypto SHA-256 in the SDK's Checksum shape (an HMAC when constructed with a secret). */
export class NodeSha256 implements Checksum {
  private hash
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', Buffer.from(secret as Uint8Array)) : createHash('sha256')
  }
  update(data: Uint8Array | string): void {
    this.hash.update(data)
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()))
  }
  reset(): void {}
}

export interface S3Object {
  bucket: string
  key: string
  region: string
  /** AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style), else https://<bucket>.s3.<region>.amazonaws.com */
  endpoint?: string
}

export interface S3CallOptions {
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider
  fetch?: typeof fetch
  timeoutMs?: number
}

/** The endpoint override the SDK honours, from the environment. */
export function s3EndpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
}

/** The Lambda runtime's credentials (its role's, in the environment Lambda sets). */
export function envCredentials(env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentity {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY)
    throw new Error('AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the role)')
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  }
}

function objectUrl(o: S3Object): URL {
  const key = o.key.split('/').map(encodeURIComponent).join('/')
  return o.endpoint
    ? new URL(`${o.endpoint.replace(/\/$/, '')}/${o.bucket}/${key}`)
    : new URL(`https://${o.bucket}.s3.${o.region}.amazonaws.com/${key}`)
}

async function signed(
  o: S3Object,
  method: 'GET' | 'PUT',
  headers: Record<string, string>,
  options: S3CallOptions,
): Promise<{ url: URL; headers: Record<string, string> }> {
  const url = objectUrl(o)
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: o.region,
    service: 's3',
    sha256: NodeSha256,
    // S3 signs the path as sent (no second encoding) — the SDK's S3 client sets the same
    uriEscapePath: false,
  })
  const request = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: {},
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
  })
  return { url, headers: request.headers }
}

async function failure(what: string, o: S3Object, response: Response): Promise<OperatorError> {
  const body = await response.text().catch(() => '')
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1] ?? `HTTP ${response.status}`
  return new OperatorError(
    `S3 ${what} of s3://${o.bucket}/${o.key} failed (${code}).`,
    code === 'AccessDenied'
      ? 'Your credentials need s3:PutObject on the stage upload bucket (docs/deploy.md, on-call IAM); the control function needs s3:GetObject on contacts-uploads/*.'
      : 'Run the command again; if it persists, check the bucket in the S3 console and `dialctl doctor`.',
    1,
    code === 'AccessDenied' ? 'S3_ACCESS_DENIED' : 'S3_FAILED',
  )
}

/**
 * PutObject of `size` bytes streamed from `body` (at most S3_SINGLE_PUT_MAX_BYTES), calling
 * `onProgress` with the bytes sent so far. Throws OperatorError S3_ACCESS_DENIED / S3_FAILED.
 */
export async function putObject(
  o: S3Object,
  body: AsyncIterable<Uint8Array>,
  size: number,
  options: S3CallOptions & { contentType?: string; onProgress?: (sentBytes: number) => void },
): Promise<void> {
  let sent = 0
  const counted = Readable.from(
    (async function* () {
      for await (const part of body) {
        sent += part.length
        options.onProgress?.(sent)
        yield part
      }
    })(),
  )
  const { url, headers } = await signed(
    o,
    'PUT',
    { 'content-length': String(size), 'content-type': options.contentType ?? 'text/csv' },
    options,
  )
  let response: Response
  try {
    response = await (options.fetch ?? fetch)(url, {
      method: 'PUT',
      headers,
      body: Readable.toWeb(counted) as ReadableStream,
      // a streamed request body (Node's fetch requires saying so)
      duplex: 'half',
      signal: AbortSignal.timeout(options.timeoutMs ?? 15 * 60_000),
    } as RequestInit)
  } catch (error) {
    throw new OperatorError(
      `Uploading to s3://${o.bucket}/${o.key} failed: ${errorMessage(error)}.`,
      'Check the network, then run the command again.',
      1,
      'S3_FAILED',
    )
  }
  if (!response.ok) throw await failure('PutObject', o, response)
  await response.body?.cancel()
}

export interface GetObjectOptions extends S3CallOptions {
  /** read from this byte to the end (`Range: bytes=<from>-`; S3 answers 206 Partial Content) */
  from?: number
  /** the object must still be this one (`If-Match: <ETag>`; S3 answers 412 PreconditionFailed if not) */
  ifMatch?: string
  /** ends the request and the read of its body (the read then fails with the abort's reason) */
  signal?: AbortSignal
}

export interface ObjectBody {
  /** the bytes from `from` (or the first) to the end, as they arrive */
  body: AsyncIterable<Buffer>
  /** the object's ETag, as S3 sent it (quotes included): pass as `ifMatch` to read the same object again */
  etag: string
  /** the whole object's size in bytes (not only the part read) */
  size: number
}

/** The whole object's size from a 200's Content-Length or a 206's Content-Range (`bytes a-b/size`). */
function objectSize(response: Response): number {
  const range = response.headers.get('content-range')
  const size = Number(range ? range.split('/')[1] : response.headers.get('content-length'))
  if (!Number.isSafeInteger(size) || size < 0) throw new Error('S3 GetObject answered without a size')
  return size
}

/**
 * GetObject, streamed (optionally a Range from a byte, on the condition that the object is still
 * the one read before). Bounded over the request and the whole body by `signal` and `timeoutMs`
 * (without a signal: 10 minutes by default). Throws OperatorError S3_ACCESS_DENIED / S3_FAILED (NoSuchKey too) /
 * UPLOAD_CHANGED (If-Match failed); an abort is thrown as is, for the caller who aborted.
 */
export async function getObject(o: S3Object, options: GetObjectOptions): Promise<ObjectBody> {
  const range: Record<string, string> = {
    ...(options.from ? { range: `bytes=${options.from}-` } : {}),
    ...(options.ifMatch ? { 'if-match': options.ifMatch } : {}),
  }
  const { url, headers } = await signed(o, 'GET', range, options)
  // the caller's signal is its bound (the control function's: its invocation's end); else a default
  const timeout =
    options.timeoutMs !== undefined || !options.signal
      ? AbortSignal.timeout(options.timeoutMs ?? 10 * 60_000)
      : undefined
  const signal =
    options.signal && timeout ? AbortSignal.any([options.signal, timeout]) : (options.signal ?? timeout!)
  let response: Response
  try {
    response = await (options.fetch ?? fetch)(url, { method: 'GET', headers, redirect: 'error', signal })
  } catch (error) {
    if (signal.aborted) throw error
    throw new OperatorError(
      `Reading s3://${o.bucket}/${o.key} failed: ${errorMessage(error)}.`,
      'Run the command again; if it persists, check the stage with `dialctl doctor`.',
      1,
      'S3_FAILED',
    )
  }
  if (response.status === 412) {
    await response.body?.cancel()
    throw new OperatorError(
      `s3://${o.bucket}/${o.key} changed since its import began (S3 PreconditionFailed on If-Match ${options.ifMatch}).`,
      'Import the file again from the start (`dialctl contacts import`); rows already imported count as duplicates.',
      1,
      'UPLOAD_CHANGED',
    )
  }
  if (!response.ok || !response.body) throw await failure('GetObject', o, response)
  const expected = options.from ? 206 : 200
  if (response.status !== expected) {
    await response.body.cancel()
    throw new Error(`S3 GetObject answered ${response.status} where ${expected} was expected`)
  }
  const size = objectSize(response)
  const etag = response.headers.get('etag')
  if (!etag) {
    await response.body.cancel()
    throw new Error('S3 GetObject answered without an ETag')
  }
  const body = response.body as unknown as AsyncIterable<Uint8Array>
  return {
    etag,
    size,
    body: (async function* () {
      for await (const part of body) yield Buffer.from(part.buffer, part.byteOffset, part.byteLength)
    })(),
  }
}
