import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWorkerClient, workerAgent } from '../../src/dialer/worker-client.js'
import type { DialCommand } from '../../src/contracts/index.js'

let server: Server
let url: string
let connections = 0
const bodies: unknown[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString()))
    req.on('end', () => {
      bodies.push({ auth: req.headers.authorization, body: JSON.parse(text) as unknown })
      res.writeHead(202, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ callId: 'from-worker' }))
    })
  })
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const command = (n: number): DialCommand => ({
  callId: `call-c-${n}-0`,
  phoneNumber: '+972501234567',
  campaignId: 'c',
  contactId: String(n),
  audioFileUrl: 'https://example.test/a.mp3',
  ivrFlow: {
    startNodeId: 'n1',
    nodes: [{ id: 'n1', type: 'play_audio', audioUrl: 'https://example.test/a.mp3' }],
  },
  metadata: {},
})

describe('worker client', () => {
  it('keeps connections alive: 20 sequential dials reuse the pool, not one TCP connection each', async () => {
    const agent = workerAgent()
    const client = createWorkerClient({ url, token: 'secret', dispatcher: agent })
    try {
      for (let i = 0; i < 20; i++)
        expect(await client.dial(command(i))).toEqual({
          kind: 'accepted',
          status: 202,
          callId: 'from-worker',
        })
      // undici may open a second socket while the first is being returned to the pool; after
      // that both are reused (without keep-alive this would be 20)
      expect(connections).toBeLessThanOrEqual(2)
      expect(bodies).toHaveLength(20)
      expect(bodies[19]).toEqual({ auth: 'Bearer secret', body: command(19) })
    } finally {
      await agent.close()
    }
  })
})

/**
 * The deadline bounds the whole exchange, a body that stalls after its headers included (issue
 * #17 replaced AbortSignal.timeout with a cheaper timer; the bound must not move).
 */
describe('worker client deadline', () => {
  let stalling: Server
  let stallUrl: string
  beforeAll(async () => {
    stalling = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        // the stall is chosen by the trace header, the one header the client lets a caller set
        if (req.headers['x-amzn-trace-id'] === 'headers') return
        res.writeHead(202, { 'content-type': 'application/json' })
        res.write('{"callId":')
      })
    })
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve))
    stallUrl = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    stalling.closeAllConnections()
    await new Promise((resolve) => stalling.close(resolve))
  })

  it.each(['headers', 'body'])('a worker that stalls its %s is an error after timeoutMs', async (stall) => {
    const agent = workerAgent()
    const client = createWorkerClient({ url: stallUrl, token: 't', timeoutMs: 150, dispatcher: agent })
    try {
      const started = Date.now()
      const result = await client.dial(command(1), { traceHeader: stall })
      expect(Date.now() - started).toBeGreaterThanOrEqual(140)
      expect(Date.now() - started).toBeLessThan(2000)
      expect(result).toEqual({ kind: 'error', message: 'worker did not answer POST /dial within 150 ms' })
    } finally {
      await agent.destroy()
    }
  })
})
