import { createHash } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A fake S3 endpoint, path-style (AWS_ENDPOINT_URL_S3=`url`): PutObject keeps the body, GetObject
 * serves it as S3 does for what dialctl sends — ETag (quoted MD5), `Range: bytes=<from>-` (206
 * with Content-Range; 416 past the end), `If-Match` (412 PreconditionFailed when the ETag differs),
 * NoSuchKey. Every request is recorded. A body is sent in `pieceBytes` writes (default: whole),
 * so a test can split it anywhere — inside a quoted field, a CRLF, a UTF-8 character.
 */
export interface FakeS3Request {
  method: string
  path: string
  headers: IncomingHttpHeaders
}

export interface FakeS3 {
  url: string
  objects: Map<string, Buffer>
  requests: FakeS3Request[]
  /** bytes per write of a GET's body; undefined: one write */
  pieceBytes: number | undefined
  etagOf(path: string): string
  close(): Promise<void>
}

const etag = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`

function serve(s3: FakeS3, req: FakeS3Request, res: ServerResponse): void {
  const body = s3.objects.get(req.path)
  if (!body) {
    res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>')
    return
  }
  const tag = etag(body)
  if (req.headers['if-match'] && req.headers['if-match'] !== tag) {
    res.writeHead(412).end('<Error><Code>PreconditionFailed</Code></Error>')
    return
  }
  const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''))
  const from = range ? Number(range[1]) : 0
  if (range && from >= body.length) {
    res.writeHead(416).end('<Error><Code>InvalidRange</Code></Error>')
    return
  }
  const part = body.subarray(from)
  res.writeHead(range ? 206 : 200, {
    etag: tag,
    'content-length': String(part.length),
    ...(range ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
  })
  const step = s3.pieceBytes ?? part.length
  for (let i = 0; i < part.length; i += step) res.write(part.subarray(i, i + step))
  res.end()
}

export async function startFakeS3(): Promise<FakeS3> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const request = { method: req.method!, path: req.url!, headers: req.headers }
      s3.requests.push(request)
      if (req.method === 'PUT') {
        s3.objects.set(req.url!, Buffer.concat(chunks))
        res.writeHead(200, { etag: etag(Buffer.concat(chunks)) }).end()
      } else serve(s3, request, res)
    })
  })
  // S3 keeps a connection open while its client reads slowly (an import commits between reads);
  // Node's default would close it 5 s after the last write, cutting the read
  server.keepAliveTimeout = 0
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const s3: FakeS3 = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects: new Map(),
    requests: [],
    pieceBytes: undefined,
    etagOf: (path) => etag(s3.objects.get(path)!),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      }),
  }
  return s3
}
