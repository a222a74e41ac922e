import { EventEmitter } from 'node:events'
import type pg from 'pg'

// Sends from this process wake this process's long-polling receivers at once; other processes'
// sends are seen at the next poll. (No LISTEN: it would pin a connection, which an embedded
// single-connection PostgreSQL cannot spare.)
const wakeups = new WeakMap<pg.Pool, EventEmitter>()

/** The per-pool emitter: `emit(queueName)` after a send, a redrive or a visibility reset to 0. */
export function wakeupsFor(pool: pg.Pool): EventEmitter {
  let emitter = wakeups.get(pool)
  if (!emitter) {
    emitter = new EventEmitter()
    emitter.setMaxListeners(0)
    wakeups.set(pool, emitter)
  }
  return emitter
}
