import type { QueuePort } from '../queue/port.js'
import { formatTraceHeader, newTraceRoot } from './context.js'

/**
 * A new task's trace header, `Root=1-<now>-<random>;Sampled=1`: the trace of one dial task begins
 * where the task is sent, so every later receive (a redelivery, a deferral's re-sent copy, a DLQ
 * redrive) stays in the same trace — a header made at the first consumer would be lost with the
 * first failed delivery.
 */
export function newTaskTraceHeader(nowMs: number = Date.now()): string {
  return formatTraceHeader({ root: newTraceRoot(nowMs), sampled: true })
}

/**
 * The queue, with a new trace header on every message sent without one (SQS carries it as the
 * AWSTraceHeader system attribute, the local queue in its trace_header column). For producers
 * of new tasks — the dispatcher — when tracing is on; every other operation passes through.
 */
export function stampingQueue(queue: QueuePort): QueuePort {
  return {
    name: queue.name,
    send: (body, options = {}) => queue.send(body, { traceHeader: newTaskTraceHeader(), ...options }),
    sendBatch: (entries) =>
      queue.sendBatch(entries.map((e) => ({ traceHeader: newTaskTraceHeader(), ...e }))),
    receive: (options) => queue.receive(options),
    delete: (handle) => queue.delete(handle),
    changeVisibility: (handle, seconds) => queue.changeVisibility(handle, seconds),
    depth: () => queue.depth(),
    peek: (limit) => queue.peek(limit),
    purge: () => queue.purge(),
    defer: (entries) => queue.defer(entries),
  }
}
