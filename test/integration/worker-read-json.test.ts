import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HttpError, readJson } from '../../worker/http.js'

/**
 * readJson reads the POST /dial body with stream listeners (issue #17: the async iterator it
 * replaced cost a share of every request's CPU); these pin what it promises: the whole body
 * however it is split, 413 past the limit with the request destroyed, 400 for non-JSON, and a
 * rejection — never a hang — when the client goes away mid-body.
 */
let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = undefined
})

/** A server whose handler runs readJson(maxBytes) and hands back its outcome and the request. */
async function serve(maxBytes: number) {
  const outcomes: Promise<{ value?: unknown; error?: unknown; req: IncomingMessage }>[] = []
  const arrived = { n: 0 }
  server = createServer((req, res) => {
    arrived.n++
    outcomes.push(
      readJson(req, maxBytes).then(
        (value) => {
          res.end('ok')
          return { value, req }
        },
        (error: unknown) => {
          res.destroy()
          return { error, req }
        },
      ),
    )
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  /**
   * POSTs `parts` one write each; `end` false announces a longer body, and the client goes away
   * once the server has the request.
   */
  const post = (parts: string[], end = true) =>
    new Promise<void>((resolve) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/dial' }, (res) => {
        res.resume()
        res.on('end', resolve)
      })
      req.on('error', () => resolve())
      req.setHeader('content-length', String(parts.join('').length + (end ? 0 : 10)))
      for (const part of parts) req.write(part)
      if (end) return void req.end()
      void vi.waitFor(() => expect(arrived.n).toBeGreaterThan(0)).then(() => req.destroy())
    })
  const next = async () => {
    await vi.waitFor(() => expect(outcomes.length).toBeGreaterThan(0))
    return outcomes.shift()!
  }
  return { post, next }
}

describe('readJson (POST /dial body)', () => {
  it('parses a body that arrives in several chunks', async () => {
    const { post, next } = await serve(1024)
    await post(['{"callId":', '"call.a.b.0",', '"attempt":0}'])
    const { value, error } = await next()
    expect(error).toBeUndefined()
    expect(value).toEqual({ callId: 'call.a.b.0', attempt: 0 })
  })

  it('413 past the limit, and the request is destroyed rather than read on', async () => {
    const { post, next } = await serve(16)
    void post(['{"a":"' + 'x'.repeat(40) + '"}'])
    const { error, req } = await next()
    expect(error).toBeInstanceOf(HttpError)
    expect((error as HttpError).status).toBe(413)
    expect((error as HttpError).code).toBe('body_too_large')
    expect(req.destroyed).toBe(true)
  })

  it('400 invalid_json for a body that is not JSON', async () => {
    const { post, next } = await serve(1024)
    await post(['{not json'])
    const { error } = await next()
    expect(error).toBeInstanceOf(HttpError)
    expect((error as HttpError).status).toBe(400)
    expect((error as HttpError).code).toBe('invalid_json')
  })

  it('rejects when the client goes away before the body ended', async () => {
    const { post, next } = await serve(1024)
    await post(['{"callId":'], false)
    const { error, value } = await next()
    expect(value).toBeUndefined()
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(HttpError)
  })
})
