import type pg from 'pg'
import type { CampaignConfig, CampaignStatus, DialTask } from '../../src/contracts/index.js'
import type {
  QueueDepth,
  QueueMessage,
  QueuePort,
  SendBatchEntry,
  SendBatchResult,
} from '../../src/queue/port.js'

/** A valid campaign config; windows default to "always open" so only the case under test matters. */
export function campaignConfig(overrides: Partial<CampaignConfig> = {}): CampaignConfig {
  return {
    audioFileUrl: 'https://example.test/a.mp3',
    ivrFlow: {
      startNodeId: 'n1',
      nodes: [{ id: 'n1', type: 'play_audio', audioUrl: 'https://example.test/a.mp3' }],
    },
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
    maxConcurrentCalls: 1000,
    maxAttemptsPerContact: 3,
    ...overrides,
  }
}

export async function insertCampaign(
  db: pg.Pool,
  id: string,
  options: { status?: CampaignStatus; timezone?: string; config?: Partial<CampaignConfig> } = {},
): Promise<void> {
  await db.query(`INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, $2, $3, $4, $5)`, [
    id,
    `Campaign ${id}`,
    options.status ?? 'active',
    JSON.stringify(campaignConfig(options.config)),
    options.timezone ?? 'UTC',
  ])
}

/** A valid Israeli mobile number per index: +97250 followed by 7 digits. */
export function phoneFor(i: number): string {
  return '+97250' + String(i).padStart(7, '0')
}

export interface ContactRow {
  id?: string
  phone?: string
  status?: string
  attempts?: number
  nextAttemptAt?: Date
  statusChangedAt?: Date
  metadata?: Record<string, unknown>
}

export async function insertContacts(
  db: pg.Pool,
  campaignId: string,
  count: number,
  row: (i: number) => ContactRow = () => ({}),
  options: { phoneOffset?: number } = {},
): Promise<string[]> {
  const ids: string[] = []
  const values: unknown[] = []
  const tuples: string[] = []
  for (let i = 0; i < count; i++) {
    const r = row(i)
    const id = r.id ?? `ct-${i}`
    ids.push(id)
    const b = values.length
    values.push(
      campaignId,
      id,
      r.phone ?? phoneFor(i + (options.phoneOffset ?? 0)),
      JSON.stringify(r.metadata ?? { n: i }),
      r.status ?? 'pending',
      r.attempts ?? 0,
      r.nextAttemptAt ?? new Date(0),
      r.statusChangedAt ?? new Date(),
    )
    tuples.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`)
    if (tuples.length === 500 || i === count - 1) {
      await db.query(
        `INSERT INTO contacts (campaign_id, id, phone_number, metadata, status, attempts, next_attempt_at, status_changed_at)
         VALUES ${tuples.join(', ')}`,
        values,
      )
      values.length = 0
      tuples.length = 0
    }
  }
  return ids
}

export async function contactStatus(db: pg.Pool, campaignId: string, id: string) {
  const { rows } = await db.query<{ status: string; attempts: number; last_outcome: string | null }>(
    'SELECT status, attempts, last_outcome FROM contacts WHERE campaign_id = $1 AND id = $2',
    [campaignId, id],
  )
  return rows[0]
}

/**
 * An in-memory QueuePort: an array of messages. `failEntry` makes chosen entries fail (SQS's
 * per-entry failure), `throwOnSend` makes whole SendMessageBatch calls throw.
 */
export class MemoryQueue implements QueuePort {
  readonly name = 'memory'
  messages: QueueMessage[] = []
  sendCalls: SendBatchEntry[][] = []
  failEntry?: (task: DialTask) => boolean
  throwOnSend?: (call: number) => boolean
  private seq = 0

  get tasks(): DialTask[] {
    return this.messages.map((m) => JSON.parse(m.body) as DialTask)
  }

  async send(body: string) {
    const messageId = `m${++this.seq}`
    this.messages.push({ messageId, receiptHandle: messageId, body, receiveCount: 0, sentAt: new Date() })
    return { messageId }
  }

  async sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult> {
    if (entries.length > 10) throw new Error(`sendBatch: ${entries.length} entries, SQS allows 10`)
    this.sendCalls.push(entries)
    if (this.throwOnSend?.(this.sendCalls.length))
      throw Object.assign(new Error('endpoint down'), { name: 'NetworkingError' })
    const result: SendBatchResult = { successful: [], failed: [] }
    for (const e of entries) {
      if (this.failEntry?.(JSON.parse(e.body) as DialTask)) {
        result.failed.push({ id: e.id, code: 'InternalError', message: 'simulated entry failure' })
      } else {
        const { messageId } = await this.send(e.body)
        result.successful.push({ id: e.id, messageId })
      }
    }
    return result
  }

  /** takes up to n messages off the queue (the test's stand-in for the pipe) */
  take(n = Infinity): DialTask[] {
    const taken = this.messages.splice(0, Math.min(n, this.messages.length))
    return taken.map((m) => JSON.parse(m.body) as DialTask)
  }

  async receive() {
    return this.messages.slice(0, 10)
  }
  async delete(receiptHandle: string) {
    this.messages = this.messages.filter((m) => m.receiptHandle !== receiptHandle)
  }
  async changeVisibility() {}
  async defer(entries: { receiptHandle: string; body: string }[]) {
    const deferred = []
    for (const [index, e] of entries.entries()) {
      await this.delete(e.receiptHandle)
      deferred.push({ index, messageId: (await this.send(e.body)).messageId })
    }
    return { deferred, failed: [] }
  }
  async depth(): Promise<QueueDepth> {
    return { visible: this.messages.length, inFlight: 0, oldestAgeSeconds: 0 }
  }
  async peek(limit: number) {
    return this.messages.slice(0, limit)
  }
  async purge() {
    const n = this.messages.length
    this.messages = []
    return n
  }
}

/** A limits port with a fixed CPS limit and a generous horizon. */
export function fixedLimits(cps = 1000, extra: { horizonSeconds?: number; maxPerRun?: number } = {}) {
  return { getLimit: async () => cps, horizonSeconds: extra.horizonSeconds ?? 10, maxPerRun: extra.maxPerRun }
}
