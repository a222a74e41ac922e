import { randomUUID } from 'node:crypto'
import { DialTask, describeZodError } from '../contracts/index.js'
import { OperatorError } from '../errors.js'
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
      throw new OperatorError(
        `--metadata "${pair}" is not a key=value pair.`,
        'Write it as --metadata firstName=John (repeat the flag for more).',
        2,
        'USAGE',
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
    throw new OperatorError(
      `The dial task is invalid: ${describeZodError(parsed.error)}.`,
      'Fix the flag named above; phone numbers are E.164, e.g. --phone +972501234567.',
      2,
      'USAGE',
    )
  }
  const tooBig = taskSizeProblem(parsed.data)
  if (tooBig)
    throw new OperatorError(
      `The dial task is too large: ${tooBig}.`,
      'Shorten the --metadata values; keep bulky data in your CRM and pass an id.',
      2,
      'TASK_TOO_LARGE',
    )
  return parsed.data
}
