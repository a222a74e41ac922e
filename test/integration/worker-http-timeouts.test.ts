import net from 'node:net'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker, WORKER_HTTP_TIMEOUTS, type Worker } from '../../worker/app.js'
import { SimDriver } from '../../worker/drivers/sim.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

// Issue #15: a slow-body (slowloris) connection was kept open for Node's default 300 s.
let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('worker_http')
})
afterAll(async () => {
  await tdb.drop()
})

function worker(http?: Partial<typeof WORKER_HTTP_TIMEOUTS>): Worker {
  return createWorker({
    db: tdb.pool,
    driver: new SimDriver({ speed: 0 }),
    token: 'secret-token-for-tests',
    workerId: 'w-http',
    caps: { maxActiveCalls: 10 },
    logger: createLogger('test-worker-http', { level: 'SILENT' }),
    ...(http ? { http } : {}),
  })
}

describe('worker HTTP server bounds', () => {
  it('defaults: headers 11 s, whole request 15 s, keep-alive 10 s (not Node’s 300 s)', async () => {
    const w = worker()
    try {
      expect(w.server.headersTimeout).toBe(11_000)
      expect(w.server.requestTimeout).toBe(15_000)
      expect(w.server.keepAliveTimeout).toBe(10_000)
      expect(w.server.headersTimeout).toBeGreaterThan(w.server.keepAliveTimeout)
    } finally {
      await w.close()
    }
  })

  it('a slowloris body (headers sent, body trickling) is cut at the request bound', async () => {
    const w = worker({
      requestTimeoutMs: 800,
      headersTimeoutMs: 600,
      keepAliveTimeoutMs: 500,
      checkIntervalMs: 100,
    })
    const port = await w.listen(0, '127.0.0.1')
    const socket = net.connect(port, '127.0.0.1')
    let received = ''
    socket.on('data', (d) => (received += d.toString()))
    socket.on('error', () => {})
    try {
      await once(socket, 'connect')
      socket.write(
        'POST /dial HTTP/1.1\r\nHost: w\r\nAuthorization: Bearer secret-token-for-tests\r\n' +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
      )
      // keep trickling a byte now and then, as a slowloris client does, until the server hangs up
      const trickle = setInterval(() => socket.writable && socket.write(' '), 100)
      const closed = once(socket, 'close')
      await vi.waitFor(() => expect(socket.destroyed || socket.readableEnded).toBe(true), { timeout: 5000 })
      clearInterval(trickle)
      await closed
      expect(received).toMatch(/^HTTP\/1\.1 408/)
    } finally {
      socket.destroy()
      await w.close()
    }
  })

  it('a client that never finishes its headers is cut at the headers bound', async () => {
    const w = worker({
      requestTimeoutMs: 2000,
      headersTimeoutMs: 500,
      keepAliveTimeoutMs: 400,
      checkIntervalMs: 100,
    })
    const port = await w.listen(0, '127.0.0.1')
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.resume()
    try {
      await once(socket, 'connect')
      socket.write('POST /dial HTTP/1.1\r\nHost: w\r\n')
      await vi.waitFor(() => expect(socket.destroyed || socket.readableEnded).toBe(true), { timeout: 5000 })
    } finally {
      socket.destroy()
      await w.close()
    }
  })
})
