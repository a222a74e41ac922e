import net from 'node:net'
import { once } from 'node:events'
import { sleep } from '../../../src/clock.js'

/**
 * A TCP proxy between the stack and a shared server (PostgreSQL, Redis) that a scenario can cut
 * and restore. We never stop the machine's shared servers (other suites use them at the same
 * time); to the stack's clients a cut looks exactly like a server restart: every open connection
 * is reset, new ones are refused (ECONNREFUSED) until restore() listens again on the same port.
 */
export class TcpProxy {
  private server?: net.Server
  private readonly sockets = new Set<net.Socket>()
  private port = 0
  /** connections accepted while up, to show the clients really went through the proxy */
  accepted = 0

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  /** Listens on an ephemeral port (first start) or the same port again (restore). */
  async start(): Promise<number> {
    const server = net.createServer((client) => {
      this.accepted++
      const upstream = net.connect(this.targetPort, this.targetHost)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        // one side failing ends the pair, as a dead server would
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.pipe(upstream).pipe(client)
    })
    // The port is ours until the cut; re-binding it right after close can race the kernel, so retry.
    // The one pause in the fault helpers that is not a wait for a condition: the only sign the
    // kernel has let go of the port is a bind that succeeds, so the bind itself is the check,
    // asked again every 100 ms (at most 20 times) instead of polling something else.
    for (let tryNo = 0; ; tryNo++) {
      try {
        server.listen(this.port, '127.0.0.1')
        await once(server, 'listening')
        break
      } catch (error) {
        if (tryNo >= 20 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
        await sleep(100)
      }
    }
    this.server = server
    this.port = (server.address() as net.AddressInfo).port
    return this.port
  }

  get url(): string {
    return `127.0.0.1:${this.port}`
  }

  get listening(): boolean {
    return this.server !== undefined
  }

  /** Resets every connection and stops listening: clients see a crashed server. */
  async cut(): Promise<void> {
    const server = this.server
    this.server = undefined
    const closed = server ? new Promise((r) => server.close(r)) : Promise.resolve()
    for (const s of this.sockets) s.resetAndDestroy()
    this.sockets.clear()
    await closed
  }

  /** The server is back: new connections go through again (on the same port). */
  async restore(): Promise<void> {
    if (!this.server) await this.start()
  }

  async close(): Promise<void> {
    await this.cut()
  }
}
