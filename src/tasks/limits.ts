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

/**
 * Upper bound of DialTask.attempts. maxAttemptsPerContact is single digits in practice; the bound
 * only keeps a forged value from overflowing PostgreSQL's integer (attempts + 1) in the claim.
 */
export const MAX_TASK_ATTEMPTS = 1000

/** UTF-8 size of `task` as the queue carries it (JSON). */
export function taskBytes(task: unknown): number {
  return Buffer.byteLength(JSON.stringify(task), 'utf8')
}

/** The fields of a dial task the size rule reads (a DialTask, or the contact a task will be made of). */
export interface SizedTask {
  campaignId: string
  contactId: string
  phoneNumber: string
  metadata?: Record<string, unknown> | undefined
  attempts: number
}

/**
 * The one size rule for a dial task, called where a task is made or accepted: `push` (buildDialTask,
 * and registerPushedContacts for every push batch, the control API's included), `contacts import`
 * (contactRowProblem, CSV and control API alike) and the dispatcher (buildTasks). The task is
 * measured as the queue will carry it at its largest — `attempts` at MAX_TASK_ATTEMPTS — so a
 * contact accepted at attempt 0 is not refused by the dispatcher on a retry, whoever made it.
 * Returns a message naming the size and the limit when it is too big; undefined when it fits.
 */
export function taskSizeProblem(task: SizedTask): string | undefined {
  const bytes = taskBytes({
    campaignId: task.campaignId,
    contactId: task.contactId,
    phoneNumber: task.phoneNumber,
    metadata: task.metadata,
    attempts: Math.max(task.attempts, MAX_TASK_ATTEMPTS),
  })
  if (bytes <= MAX_DIAL_TASK_BYTES) return undefined
  return `the dial task would be ${bytes} bytes; the limit is ${MAX_DIAL_TASK_BYTES} (the worker accepts ${WORKER_MAX_BODY_BYTES} for the task and its campaign's config together)`
}

/**
 * What the dial command holds besides the task and the campaign's config: the call id (at most 120
 * characters or the 70-character hashed form, see callIdFor), the attempt, the slot's `notBefore`
 * and `cpsLimit`, and the keys. 4 KiB is far above their sum and small against the budget.
 */
export const DIAL_COMMAND_OVERHEAD_BYTES = 4 * 1024

/**
 * The campaign's share of the worker's body limit: what its config may weigh as JSON, so that any
 * task within MAX_DIAL_TASK_BYTES makes a dial command the worker accepts (issue #15 review F4:
 * a 200 KiB audioFileUrl and a 60 KiB task made a 266,821-byte command, refused with 413).
 */
export const MAX_CAMPAIGN_CONFIG_BYTES =
  WORKER_MAX_BODY_BYTES - MAX_DIAL_TASK_BYTES - DIAL_COMMAND_OVERHEAD_BYTES

/**
 * A message naming the config's size, the limit and its largest fields when `config` is over its
 * share; undefined when it fits. `config` is the campaign's config object as stored (JSON).
 */
export function campaignConfigSizeProblem(config: Record<string, unknown>): string | undefined {
  const bytes = taskBytes(config)
  if (bytes <= MAX_CAMPAIGN_CONFIG_BYTES) return undefined
  const largest = Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => [key, taskBytes(v)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([key, n]) => `config.${key} is ${n} bytes`)
  return `the campaign config is ${bytes} bytes (${largest.join(', ')}); the limit is ${MAX_CAMPAIGN_CONFIG_BYTES} bytes, so that every dial command with its task fits the worker's ${WORKER_MAX_BODY_BYTES}`
}

/**
 * A message when the dial command (the body the dialer POSTs, `notBefore` and `cpsLimit` included)
 * would exceed the worker's body limit; undefined when it fits. The authority at the point the
 * command is built: the bounds above are checked earlier, and a campaign stored before they
 * existed, or edited in the database, could still break them.
 */
export function dialCommandSizeProblem(command: unknown): string | undefined {
  const bytes = taskBytes(command)
  if (bytes <= WORKER_MAX_BODY_BYTES) return undefined
  return `the dial command would be ${bytes} bytes; the worker accepts ${WORKER_MAX_BODY_BYTES} (the task is limited to ${MAX_DIAL_TASK_BYTES}, the campaign config to ${MAX_CAMPAIGN_CONFIG_BYTES}: shrink the campaign's config or the contact's metadata)`
}
