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

export interface SendBatchEntry {
  /** caller's id for the entry, echoed in failures (SQS's Id) */
  id: string
  body: string
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
  send(body: string): Promise<SendResult>
  /** at most 10 entries, 256 KiB per message (SQS limits), else a clear error */
  sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult>
  receive(options?: ReceiveOptions): Promise<QueueMessage[]>
  delete(receiptHandle: string): Promise<void>
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void>
  depth(): Promise<QueueDepth>
  /** look without receiving: no receive count change, no reordering */
  peek(limit: number): Promise<QueueMessage[]>
  purge(): Promise<number>
}

export const SQS_MAX_BATCH = 10
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024
export const DEFAULT_MAX_RECEIVE_COUNT = 3
