import net from 'node:net'
import type { PGlite } from '@electric-sql/pglite'
import { bestEffort } from '../errors.js'

const SSL_REQUEST = 80877103
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608

interface Unit {
  conn: Conn
  bytes: Buffer
}

interface Conn {
  id: number
  socket: net.Socket
  buffer: Buffer
  /** typed messages received since the last Sync / Query */
  pending: Buffer[]
  closed: boolean
}

/**
 * Serves one embedded PGlite to many `pg` clients over the PostgreSQL wire protocol.
 *
 * pglite-socket's own server multiplexes message by message, so two clients' extended-protocol
 * sequences (Parse, Bind, Execute … Sync) interleave and the unnamed statement of one is bound
 * with the other's parameters ("bind message supplies 3 parameters, but prepared statement
 * requires 6"). Here a client's messages run as one unit up to its Sync (or simple Query), and a
 * client that opened a transaction keeps the database until it ends it: what a real server's
 * separate backends would give.
 */
export class PgliteWireServer {
  private readonly server: net.Server
  private readonly queue: Unit[] = []
  private processing = false
  /** the connection whose transaction is open: only its units run until it ends */
  private owner: Conn | undefined
  private nextId = 1
  private readonly conns = new Set<Conn>()

  constructor(private readonly db: PGlite) {
    this.server = net.createServer((socket) => this.accept(socket))
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => resolve((this.server.address() as net.AddressInfo).port))
    })
  }

  async close(): Promise<void> {
    for (const conn of this.conns) conn.socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true)
    const conn: Conn = { id: this.nextId++, socket, buffer: Buffer.alloc(0), pending: [], closed: false }
    this.conns.add(conn)
    socket.on('data', (data) => this.receive(conn, data))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => void this.drop(conn))
  }

  private receive(conn: Conn, data: Buffer): void {
    conn.buffer = Buffer.concat([conn.buffer, data])
    for (;;) {
      const buf = conn.buffer
      if (buf.length < 5) return
      // Untyped startup-phase messages: length, then a code.
      if (buf.length >= 8) {
        const len = buf.readInt32BE(0)
        const code = buf.readInt32BE(4)
        if (code === SSL_REQUEST && len === 8) {
          conn.buffer = buf.subarray(8)
          conn.socket.write('N')
          continue
        }
        if (code === CANCEL_REQUEST && len === 16) {
          if (buf.length < 16) return
          conn.buffer = buf.subarray(16)
          continue
        }
        if (code === PROTOCOL_3) {
          if (buf.length < len) return
          this.enqueue({ conn, bytes: Buffer.from(buf.subarray(0, len)) })
          conn.buffer = buf.subarray(len)
          continue
        }
      }
      const type = String.fromCharCode(buf[0]!)
      const len = 1 + buf.readInt32BE(1)
      if (buf.length < len) return
      const message = Buffer.from(buf.subarray(0, len))
      conn.buffer = buf.subarray(len)
      if (type === 'X') {
        conn.socket.end()
        return
      }
      conn.pending.push(message)
      if (type === 'S' || type === 'Q' || type === 'H') {
        this.enqueue({ conn, bytes: Buffer.concat(conn.pending) })
        conn.pending = []
      }
    }
  }

  private enqueue(unit: Unit): void {
    this.queue.push(unit)
    void this.process()
  }

  private async process(): Promise<void> {
    if (this.processing) return
    this.processing = true
    try {
      for (;;) {
        const i = this.owner ? this.queue.findIndex((u) => u.conn === this.owner) : 0
        if (i < 0 || this.queue.length === 0) break
        const unit = this.queue.splice(i, 1)[0]!
        if (unit.conn.closed) continue
        await this.db.runExclusive(() =>
          this.db.execProtocolRawStream(new Uint8Array(unit.bytes), {
            onRawData: (chunk: Uint8Array) => {
              if (!unit.conn.closed) unit.conn.socket.write(chunk)
            },
          }),
        )
        this.owner = this.db.isInTransaction() ? unit.conn : undefined
      }
    } finally {
      this.processing = false
    }
    if (this.queue.length > 0 && (!this.owner || this.queue.some((u) => u.conn === this.owner)))
      void this.process()
  }

  private async drop(conn: Conn): Promise<void> {
    conn.closed = true
    this.conns.delete(conn)
    if (this.owner === conn) {
      // the client went away inside a transaction: end it, as a backend exit would
      await bestEffort(
        this.db.runExclusive(() => this.db.exec('ROLLBACK')),
        'no transaction may be open any more; there is no one left to tell',
      )
      this.owner = undefined
      void this.process()
    }
  }
}
