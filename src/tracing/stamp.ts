import type { QueuePort } from '../queue/port.js'
import { formatTraceHeader, newTraceRoot } from './context.js'

/**
 * The share of dispatched tasks traced on AWS (0..1) unless the stage sets TRACE_SAMPLE_RATE.
 * One task is ~15–22 X-Ray segments: at 100 CPS, 100 % sampling is ~2 000 segments/s (above the
 * PutTraceSegments quota) and $5 per million traces recorded (AWS X-Ray pricing); 5 % keeps the
 * trace map and a few traces a second.
 */
export const DEFAULT_TRACE_SAMPLE_RATE = 0.05

export interface StampOptions {
  /** share of new tasks sampled, 0..1; default 1 (every task) */
  sampleRate?: number
  /** uniform [0, 1) source; injected by tests */
  random?: () => number
  nowMs?: number
}

/** The sampling decision for one new task, made once: `random() < sampleRate`. */
export function sampleTask(sampleRate = 1, random: () => number = Math.random): boolean {
  return sampleRate >= 1 || random() < sampleRate
}

/**
 * A new task's trace header, `Root=1-<now>-<random>;Sampled=1|0`: the trace of one dial task begins
 * where the task is sent, so every later receive (a redelivery, a deferral's re-sent copy, a DLQ
 * redrive) stays in the same trace — a header made at the first consumer would be lost with the
 * first failed delivery. Sampled=0 headers still propagate; the tracer records nothing for them
 * (src/tracing/tracer.ts), so the decision is taken once per task, here.
 */
export function newTaskTraceHeader(options: StampOptions = {}): string {
  const sampled = sampleTask(options.sampleRate, options.random)
  return formatTraceHeader({ root: newTraceRoot(options.nowMs ?? Date.now()), sampled })
}

/**
 * A copy of `entry` with its trace header, a new one when it has none. Object.assign and a set,
 * not `{ ...entry, traceHeader }`: V8 (Node 20) builds a spread with an added key on a slow path
 * (~0.7 µs a message, issue #17). Same keys in the same order: entries are plain objects of ours,
 * with no `__proto__` key for assign's set and the spread's define to differ on.
 */
function stamped<T extends { traceHeader?: string }>(entry: T, stamp: StampOptions): T {
  const copy = Object.assign({}, entry)
  copy.traceHeader = entry.traceHeader ?? newTaskTraceHeader(stamp)
  return copy
}

/**
 * The queue, with a new trace header on every message sent without one (SQS carries it as the
 * AWSTraceHeader system attribute, the local queue in its trace_header column); a header the
 * caller gives is kept. For producers of new tasks — the dispatcher — when tracing is on; every
 * other operation passes through.
 */
export function stampingQueue(queue: QueuePort, stamp: StampOptions = {}): QueuePort {
  return {
    name: queue.name,
    send: (body, options = {}) => queue.send(body, stamped(options, stamp)),
    sendBatch: (entries) => queue.sendBatch(entries.map((e) => stamped(e, stamp))),
    receive: (options) => queue.receive(options),
    delete: (handle) => queue.delete(handle),
    changeVisibility: (handle, seconds) => queue.changeVisibility(handle, seconds),
    depth: () => queue.depth(),
    peek: (limit) => queue.peek(limit),
    purge: () => queue.purge(),
    defer: (entries) => queue.defer(entries),
  }
}
