import { randomUUID } from 'node:crypto'
import { DialTask, describeZodError } from '../contracts/index.js'
import { usageError } from '../errors.js'
import { taskSizeProblem } from './limits.js'

export interface TaskInput {
  campaignId: string
  phoneNumber: string
  contactId?: string
  /** `key=value` pairs from the command line */
  metadata?: string[]
  attempts?: number
}

/** Parses `k=v` pairs; a pair without `=` is a usage error naming it. */
export function parseMetadataPairs(pairs: string[] = []): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) {
      throw usageError(
        `--metadata "${pair}" is not a key=value pair.`,
        'Write it as --metadata firstName=John (repeat the flag for more).',
      )
    }
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return metadata
}

/** A validated DialTask from operator input; errors name the field. */
export function buildDialTask(input: TaskInput): DialTask {
  const candidate = {
    campaignId: input.campaignId,
    contactId: input.contactId ?? `push-${randomUUID().slice(0, 8)}`,
    phoneNumber: input.phoneNumber,
    metadata: parseMetadataPairs(input.metadata),
    attempts: input.attempts ?? 0,
  }
  const parsed = DialTask.safeParse(candidate)
  if (!parsed.success) {
    throw usageError(
      `The dial task is invalid: ${describeZodError(parsed.error)}.`,
      // the format of a number is in the message (PhoneNumber's refusal), not an example number
      'Fix the flag named above and push again.',
    )
  }
  const tooBig = taskSizeProblem(parsed.data)
  if (tooBig)
    throw usageError(
      `The dial task is too large: ${tooBig}.`,
      'Shorten the --metadata values; keep bulky data in your CRM and pass an id.',
      'TASK_TOO_LARGE',
    )
  return parsed.data
}
