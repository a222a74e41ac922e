import { SQS_MAX_BATCH, SQS_MAX_DELAY_SECONDS, SQS_MAX_MESSAGE_BYTES, type SendBatchEntry } from './port.js'

/**
 * SQS's request limits, checked the same way by the local queue and (before any network call) by
 * the SQS adapter, so a batch that fails on AWS fails locally with the same code.
 */
export class QueueError extends Error {
  constructor(
    /** SQS's error code, e.g. TooManyEntriesInBatchRequest, ReceiptHandleIsInvalid */
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'QueueError'
  }
}

/** Longest visibility timeout SQS accepts (12 hours). */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200
export const SQS_MAX_WAIT_SECONDS = 20
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/
// Characters SQS accepts in a body: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
// eslint-disable-next-line no-control-regex
const INVALID_BODY_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u

export function byteLength(body: string): number {
  return Buffer.byteLength(body, 'utf8')
}

/** Throws a QueueError naming `label` (the entry) and the limit when `body` is not a valid SQS body. */
export function checkBody(body: unknown, label: string): asserts body is string {
  if (typeof body !== 'string' || body.length === 0)
    throw new QueueError(
      'InvalidParameterValue',
      `${label}: the message body must be a non-empty string (SQS rejects empty bodies)`,
    )
  const bytes = byteLength(body)
  if (bytes > SQS_MAX_MESSAGE_BYTES)
    throw new QueueError(
      'InvalidParameterValue',
      `${label}: body is ${bytes} bytes; the limit is ${SQS_MAX_MESSAGE_BYTES} bytes (256 KiB) per message. ` +
        'Send less per task (ids, not payloads).',
    )
  const bad = INVALID_BODY_CHAR.exec(body)
  if (bad)
    throw new QueueError(
      'InvalidMessageContents',
      `${label}: body contains character U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} ` +
        `at index ${bad.index}, which SQS does not accept. Encode binary data (e.g. base64).`,
    )
}

/** SendMessageBatch's request checks: 1–10 entries, distinct well-formed ids, 256 KiB per message and in total. */
export function checkBatch(entries: SendBatchEntry[]): void {
  if (!Array.isArray(entries) || entries.length === 0)
    throw new QueueError('EmptyBatchRequest', 'sendBatch: the batch has no entries; send at least one')
  if (entries.length > SQS_MAX_BATCH)
    throw new QueueError(
      'TooManyEntriesInBatchRequest',
      `sendBatch: ${entries.length} entries; the limit is ${SQS_MAX_BATCH} per batch. Split the list into chunks of ${SQS_MAX_BATCH}.`,
    )
  const seen = new Set<string>()
  let total = 0
  entries.forEach((entry, index) => {
    const id = entry?.id
    if (typeof id !== 'string' || !BATCH_ID.test(id))
      throw new QueueError(
        'InvalidBatchEntryId',
        `sendBatch entry #${index} (id ${JSON.stringify(id)}): id must be 1–80 characters of A-Z, a-z, 0-9, - or _`,
      )
    if (seen.has(id))
      throw new QueueError(
        'BatchEntryIdsNotDistinct',
        `sendBatch entry #${index}: id "${id}" is used twice; ids must be distinct within a batch`,
      )
    seen.add(id)
    checkBody(entry.body, `sendBatch entry "${id}"`)
    if (entry.delaySeconds !== undefined)
      checkDelay(entry.delaySeconds, `sendBatch entry "${id}" delaySeconds`)
    total += byteLength(entry.body)
  })
  if (total > SQS_MAX_MESSAGE_BYTES)
    throw new QueueError(
      'BatchRequestTooLong',
      `sendBatch: the bodies add up to ${total} bytes; the limit is ${SQS_MAX_MESSAGE_BYTES} bytes (256 KiB) for the whole batch. Send fewer entries per batch.`,
    )
}

export function checkMaxMessages(n: number | undefined): number {
  const value = n ?? 1
  if (!Number.isInteger(value) || value < 1 || value > SQS_MAX_BATCH)
    throw new QueueError(
      'InvalidParameterValue',
      `receive: maxMessages is ${n}; it must be an integer from 1 to ${SQS_MAX_BATCH}`,
    )
  return value
}

/** peek's limit (dialctl's own operation, not an SQS call): an integer from 1 to 1000. */
export function checkPeekLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new QueueError(
      'InvalidParameterValue',
      `peek: limit is ${limit}; it must be an integer from 1 to 1000`,
    )
}

/** Fractional seconds are accepted here (tests use short timeouts); the SQS adapter rounds up. */
export function checkVisibility(seconds: number, label = 'visibilityTimeoutSeconds'): number {
  if (
    typeof seconds !== 'number' ||
    !Number.isFinite(seconds) ||
    seconds < 0 ||
    seconds > SQS_MAX_VISIBILITY_SECONDS
  )
    throw new QueueError(
      'InvalidParameterValue',
      `${label} is ${seconds}; it must be from 0 to ${SQS_MAX_VISIBILITY_SECONDS} seconds (12 hours)`,
    )
  return seconds
}

export function checkWait(seconds: number | undefined): number {
  const value = seconds ?? 0
  if (!Number.isFinite(value) || value < 0 || value > SQS_MAX_WAIT_SECONDS)
    throw new QueueError(
      'InvalidParameterValue',
      `receive: waitTimeSeconds is ${seconds}; it must be from 0 to ${SQS_MAX_WAIT_SECONDS}`,
    )
  return value
}

/** DelaySeconds: whole seconds from 0 to 900 (SQS's range; fractions would be silently truncated there). */
export function checkDelay(seconds: number, label = 'delaySeconds'): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > SQS_MAX_DELAY_SECONDS)
    throw new QueueError(
      'InvalidParameterValue',
      `${label} is ${seconds}; it must be a whole number of seconds from 0 to ${SQS_MAX_DELAY_SECONDS} (15 minutes)`,
    )
  return seconds
}
