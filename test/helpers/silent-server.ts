import net from 'node:net'
import { once } from 'node:events'

/**
 * A TCP listener that accepts connections and never answers: what a frozen Redis or PostgreSQL
 * looks like to a client (failover in progress, half-open NAT path, paused node). A refused port
 * fails at once; this one only fails where the client bounds its own waits.
 */
export interface SilentServer {
  port: number
  /** connections accepted so far */
  accepted(): number
  close(): Promise<void>
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<net.Socket>()
  let count = 0
  const server = net.createServer((socket) => {
    count++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    // read and discard: the client's bytes are received, nothing is ever written back
    socket.resume()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => count,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A TCP proxy to a real server that can freeze: until `freeze()` it forwards both ways; after it,
 * every connection (open or new) stays up and nothing more is delivered in either direction —
 * a server paused mid-session (SIGSTOP), not a refused port. What was sent meanwhile is buffered
 * and delivered on `thaw()`, as a resumed server would answer it.
 */
export interface FreezableProxy {
  port: number
  freeze(): void
  thaw(): void
  close(): Promise<void>
}

export async function startFreezableProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<FreezableProxy> {
  let frozen = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
      if (frozen) s.pause()
    }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      frozen = true
      for (const s of sockets) s.pause()
    },
    thaw: () => {
      frozen = false
      for (const s of sockets) s.resume()
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
