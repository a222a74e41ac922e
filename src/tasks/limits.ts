/**
 * How big a dial task may be — one figure, checked where a task is made (`push`, `contacts import`,
 * the dispatcher) so nothing the queue accepts is later refused by the worker.
 *
 * The worker's POST /dial accepts WORKER_MAX_BODY_BYTES (SQS's own message limit, 256 KiB). A dial
 * command is the task plus what enrich adds (the campaign's config and IVR, ids, the attempt), so a
 * task at SQS's maximum produced a command over the worker's limit and retried into the DLQ
 * (issue #15). The task keeps a quarter of the budget; the rest is the campaign's.
 */
export const WORKER_MAX_BODY_BYTES = 256 * 1024
export const MAX_DIAL_TASK_BYTES = 64 * 1024

/** UTF-8 size of `task` as the queue carries it (JSON). */
export function taskBytes(task: unknown): number {
  return Buffer.byteLength(JSON.stringify(task), 'utf8')
}

/** A message naming the size and the limit when `task` is too big; undefined when it fits. */
export function taskSizeProblem(task: unknown): string | undefined {
  const bytes = taskBytes(task)
  if (bytes <= MAX_DIAL_TASK_BYTES) return undefined
  return `the dial task would be ${bytes} bytes; the limit is ${MAX_DIAL_TASK_BYTES} (the worker accepts ${WORKER_MAX_BODY_BYTES} for the task and its campaign's config together)`
}
