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
