import type { CampaignConfig, EnrichedDialTask } from '../contracts/index.js'
import { dialCommandFor } from '../dialer/worker-client.js'
import { dialCommandSizeProblem, WORKER_MAX_BODY_BYTES } from '../tasks/limits.js'

/**
 * The slot the dialer adds to a dial command (`notBefore`, `cpsLimit`), at its widest as JSON
 * (1.7976931348623157e+308 each), so a command measured here stays within the limit whatever
 * slot it gets.
 */
export const WIDEST_SLOT = { notBefore: Number.MAX_VALUE, cpsLimit: Number.MAX_VALUE } as const

/**
 * The dial command's keys whose values come from the task (see dialCommandFor); every other key
 * comes from the campaign's config or the slot. A test holds dialCommandFor to this list.
 */
export const TASK_COMMAND_KEYS = [
  'callId',
  'phoneNumber',
  'campaignId',
  'contactId',
  'metadata',
  'attempt',
] as const

/**
 * Widest the call id is as JSON: callIdFor gives at most 120 characters, all [A-Za-z0-9._-]
 * (the hashed form is 70), so 122 bytes with its quotes.
 */
export const MAX_CALL_ID_JSON_BYTES = 122

/** `"callId":` and the comma after its value. */
const CALL_ID_PAIR_OVERHEAD = '"callId":,'.length

/**
 * UTF-8 bytes of the command's campaign part (the keys not in TASK_COMMAND_KEYS, the widest slot
 * included) as a JSON object, by config object. Kept only for a frozen config, which cannot
 * change: the lookup's (lookup.ts) are, one object per row text, so an edited campaign is a new
 * object and a new entry; a WeakMap, so an entry goes with its config.
 */
const campaignPartBytes = new WeakMap<CampaignConfig, number>()

function campaignPart(task: EnrichedDialTask): number {
  const config = task.campaign.config
  const kept = campaignPartBytes.get(config)
  if (kept !== undefined) return kept
  const part: Record<string, unknown> = { ...dialCommandFor(task), ...WIDEST_SLOT }
  for (const key of TASK_COMMAND_KEYS) delete part[key]
  const bytes = jsonBytes(part)
  if (Object.isFrozen(config)) campaignPartBytes.set(config, bytes)
  return bytes
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8')
}

/**
 * An upper bound of the dial command's size in UTF-8 bytes (`{ ...dialCommandFor(task),
 * ...WIDEST_SLOT }` as JSON), exact but for the call id, counted at MAX_CALL_ID_JSON_BYTES.
 * A JSON object's text is its key/value pairs, commas and braces whatever the key order, so the
 * command's size is its task part's plus its campaign part's (cached), less the one brace pair
 * the merge saves, plus the comma it adds.
 */
export function dialCommandBytesBound(task: EnrichedDialTask): number {
  const taskPart = jsonBytes({
    phoneNumber: task.phoneNumber,
    campaignId: task.campaignId,
    contactId: task.contactId,
    metadata: task.metadata ?? {},
    attempt: task.attempts,
  })
  return taskPart + CALL_ID_PAIR_OVERHEAD + MAX_CALL_ID_JSON_BYTES + campaignPart(task) - 1
}

/**
 * dialCommandSizeProblem of the task's dial command with the widest slot: the same rule, but the
 * command is only built and encoded whole when the bound comes near the worker's limit. Most
 * commands are a few KiB against 256 KiB, and encoding each (its IVR flow included) was most of
 * enrich's size check (issue #17).
 */
export function dialCommandTooLarge(task: EnrichedDialTask): string | undefined {
  if (dialCommandBytesBound(task) <= WORKER_MAX_BODY_BYTES) return undefined
  return dialCommandSizeProblem({ ...dialCommandFor(task), ...WIDEST_SLOT })
}
