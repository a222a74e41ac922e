import type { IncomingMessage, ServerResponse } from 'node:http'

/** An error that is the reply: `status` and `{error: code, message}` go to the client as they are. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Writes `body` as the JSON reply, with its length (the dialer reuses sockets). */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

/**
 * The request body parsed as JSON: `parse` of its UTF-8 text, JSON.parse unless the caller reads
 * the text itself (POST /dial: parseDialCommand). @throws HttpError 413 past `maxBytes` (read no
 * further), 400 when `parse` throws (it is not JSON); the stream's error when the request fails
 * before its body ended.
 *
 * Listeners rather than `for await`: the async iterator's setup (end-of-stream tracking, a promise
 * per chunk) was a measurable share of a POST /dial's CPU (issue #17), for a body that is one or
 * two chunks.
 */
export function readJson<T = unknown>(
  req: IncomingMessage,
  maxBytes: number,
  parse: (text: string) => T = JSON.parse,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (outcome: () => void) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
      outcome()
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBytes) return void chunks.push(chunk)
      req.destroy()
      settle(() =>
        reject(
          new HttpError(413, 'body_too_large', `body: larger than ${maxBytes} bytes; send one dial command`),
        ),
      )
    }
    const onEnd = () =>
      settle(() => {
        try {
          resolve(parse(Buffer.concat(chunks, size).toString('utf8')))
        } catch {
          reject(new HttpError(400, 'invalid_json', 'body: must be a JSON DialCommand object'))
        }
      })
    const onError = (error: Error) => settle(() => reject(error))
    const onClose = () => settle(() => reject(new Error('the request closed before its body ended')))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** Rejects after `ms` so a hung PostgreSQL cannot hang the health check. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)
    }),
  ])
}
