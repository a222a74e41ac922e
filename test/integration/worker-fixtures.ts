import type pg from 'pg'
import type { DialCommand } from '../../src/contracts/messages.js'
import type { OriginateRequest, TelephonyDriver } from '../../src/telephony/driver.js'
import type { AriDriverConfig } from '../../worker/drivers/ari/config.js'
import type { FakeAriServer } from '../helpers/fake-ari-server.js'

export const flow = {
  startNodeId: 'node-1',
  nodes: [
    { id: 'node-1', type: 'play_audio', audioUrl: 'https://example.com/intro.mp3', nextNodeId: 'node-2' },
    {
      id: 'node-2',
      type: 'capture_input',
      timeout: 10,
      validInputs: ['1', '9'],
      actions: {
        '1': { type: 'trigger_donation', parameters: { amount: 18 } },
        '9': { type: 'add_to_blacklist', parameters: {} },
      },
    },
  ],
}

export async function insertCampaign(
  db: pg.Pool,
  id: string,
  config: { maxAttemptsPerContact?: number; retryDelayMinutes?: number } = {},
): Promise<void> {
  await db.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, $1, 'active', $2, 'Asia/Jerusalem')`,
    [
      id,
      JSON.stringify({
        audioFileUrl: 'https://example.com/intro.mp3',
        ivrFlow: flow,
        callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
        maxConcurrentCalls: 10,
        maxAttemptsPerContact: config.maxAttemptsPerContact ?? 3,
        ...(config.retryDelayMinutes !== undefined ? { retryDelayMinutes: config.retryDelayMinutes } : {}),
      }),
    ],
  )
}

export async function insertContact(
  db: pg.Pool,
  campaignId: string,
  id: string,
  phone: string,
  state: { status?: string; attempts?: number } = {},
): Promise<void> {
  await db.query(
    `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts) VALUES ($1, $2, $3, $4, $5)`,
    [campaignId, id, phone, state.status ?? 'queued', state.attempts ?? 0],
  )
}

export async function contactRow(db: pg.Pool, campaignId: string, id: string) {
  const { rows } = await db.query<{
    status: string
    attempts: number
    last_outcome: string | null
    retry_in_minutes: number
  }>(
    `SELECT status, attempts, last_outcome,
            round(extract(epoch FROM next_attempt_at - now()) / 60)::int AS retry_in_minutes
     FROM contacts WHERE campaign_id = $1 AND id = $2`,
    [campaignId, id],
  )
  return rows[0]
}

export function dialCommand(overrides: Partial<DialCommand> & { contactId: string }): DialCommand {
  const attempt = overrides.attempt ?? 0
  return {
    callId: `call-camp-1-${overrides.contactId}-${attempt}`,
    phoneNumber: '+972501234567',
    campaignId: 'camp-1',
    audioFileUrl: 'https://example.com/intro.mp3',
    ivrFlow: flow as DialCommand['ivrFlow'],
    metadata: {},
    attempt,
    ...overrides,
  }
}

/** Holds every originate until `open()`: makes "a call is in flight" deterministic in tests. */
export class GatedDriver implements TelephonyDriver {
  readonly name: string
  started: string[] = []
  private gate: Promise<void>
  private release!: () => void

  constructor(private readonly inner: TelephonyDriver) {
    this.name = `gated-${inner.name}`
    this.gate = new Promise((resolve) => (this.release = resolve))
  }

  open(): void {
    this.release()
  }

  healthy(): boolean {
    return this.inner.healthy()
  }

  async originate(request: OriginateRequest) {
    this.started.push(request.callId)
    await this.gate
    return this.inner.originate(request)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

/**
 * The ARI driver settings the worker-level tests share: the fake server's address and login, fast
 * reconnects, no heartbeat, a short hang-up wait. Each test names its app and endpoint template
 * and overrides what its scenario needs.
 */
export function fakeAriDriverConfig(
  fake: FakeAriServer,
  options: Pick<AriDriverConfig, 'app' | 'endpointTemplate'> & Partial<AriDriverConfig>,
): AriDriverConfig {
  return {
    url: fake.url,
    username: fake.username,
    password: fake.password,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    heartbeatMs: 0,
    ringGraceMs: 150,
    hangupWaitMs: 1_000,
    ...options,
  }
}
