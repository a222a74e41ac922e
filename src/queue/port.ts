/**
 * What the pipeline and dialctl need from a queue, with SQS semantics. Implemented by the
 * SQS adapter (AWS stages) and the PostgreSQL adapter (local stack).
 */
export interface QueueMessage {
  messageId: string
  /** opaque handle for delete / changeVisibility; changes on every receive */
  receiptHandle: string
  body: string
  /** SQS ApproximateReceiveCount after this receive */
  receiveCount: number
  sentAt: Date
  firstReceivedAt?: Date
  attributes?: Record<string, string>
}

export interface SendResult {
  messageId: string
}

export interface SendOptions {
  /** SQS DelaySeconds: the message stays invisible this long after the send, 0–900 s */
  delaySeconds?: number
  /**
   * The X-Ray trace header the message carries (SQS system attribute `AWSTraceHeader`); a receive
   * returns it as `attributes.AWSTraceHeader`. Omitted: the message carries none.
   */
  traceHeader?: string
}

export interface SendBatchEntry {
  /** caller's id for the entry, echoed in failures (SQS's Id) */
  id: string
  body: string
  /** SQS DelaySeconds of this entry, 0–900 s */
  delaySeconds?: number
  /** see SendOptions.traceHeader */
  traceHeader?: string
}

/** One received message to retry later without spending a receive (see QueuePort.defer). */
export interface DeferEntry {
  /** the handle of the copy being deferred (deleted once the new copy is sent) */
  receiptHandle: string
  body: string
  /** when the new copy becomes visible, 0–900 s (SQS DelaySeconds) */
  delaySeconds: number
  /** the trace header the new copy carries (SQS needs it re-sent; the local queue keeps the old copy's) */
  traceHeader?: string
}

export interface DeferResult {
  /** new message ids of the re-sent copies, in entry order (undefined where the send failed) */
  deferred: { index: number; messageId: string }[]
  /** entries whose re-send failed: their received copy was NOT deleted, so they retry as a normal receive */
  failed: { index: number; code: string; message: string }[]
}

export interface SendBatchResult {
  successful: { id: string; messageId: string }[]
  failed: { id: string; code: string; message: string }[]
}

export interface QueueDepth {
  visible: number
  inFlight: number
  /** seconds since the oldest message was sent; 0 when empty */
  oldestAgeSeconds: number
}

export interface ReceiveOptions {
  maxMessages?: number
  visibilityTimeoutSeconds?: number
  /** long-poll up to this many seconds when empty */
  waitTimeSeconds?: number
}

export interface RedriveResult {
  moved: number
}

export interface QueuePort {
  readonly name: string
  send(body: string, options?: SendOptions): Promise<SendResult>
  /** at most 10 entries, 256 KiB per message (SQS limits), else a clear error */
  sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult>
  receive(options?: ReceiveOptions): Promise<QueueMessage[]>
  delete(receiptHandle: string): Promise<void>
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void>
  depth(): Promise<QueueDepth>
  /** look without receiving: no receive count change, no reordering */
  peek(limit: number): Promise<QueueMessage[]>
  purge(): Promise<number>
  /**
   * Retry later without counting a receive: re-sends each body with DelaySeconds and then deletes
   * the received copy (SQS cannot reset ApproximateReceiveCount, so a deferral is a new message).
   * At-least-once: if the delete fails after the send, both copies exist — the dial gate's
   * idempotency key makes the second harmless. Entries of at most 10 per call (one SQS batch).
   */
  defer(entries: DeferEntry[]): Promise<DeferResult>
}

export const SQS_MAX_BATCH = 10
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024
export const DEFAULT_MAX_RECEIVE_COUNT = 3
/** SQS's longest DelaySeconds (15 minutes). */
export const SQS_MAX_DELAY_SECONDS = 900
