/**
 * Dispatcher throughput: contacts queued per second from one large campaign (default 1,000,000
 * contacts; BENCH_DISPATCH_CONTACTS to change). The queue is an in-memory sink, so this measures
 * the dispatcher itself: the claim (UPDATE … FOR UPDATE SKIP LOCKED), DialTask validation and
 * batching into SendMessageBatch calls of 10, and the per-run bookkeeping queries.
 *
 * Each measured run dispatches BENCH_DISPATCH_PER_RUN contacts (default 100,000) through repeated
 * dispatchOnce calls of up to 10,000 contacts each; between runs (not timed) the queued contacts
 * are marked done, as the downstream would, so every run starts from the same in-flight state.
 */
import { createPool } from '../../src/db/pool.js'
import { dispatchOnce, DEFAULT_MAX_PER_RUN } from '../../src/dispatch/dispatch.js'
import type { QueuePort, SendBatchEntry, SendBatchResult } from '../../src/queue/port.js'
import { createTestDb } from '../helpers/db.js'
import { fmt, percentile, stats, type BenchSection } from './types.js'

const CONTACTS = Number(process.env.BENCH_DISPATCH_CONTACTS ?? 1_000_000)
const PER_RUN = Math.min(Number(process.env.BENCH_DISPATCH_PER_RUN ?? 100_000), Math.floor(CONTACTS / 6))
const RUNS = 5

/** Accepts everything at once: a queue with no latency, so the figure is the dispatcher's. */
class SinkQueue implements Pick<QueuePort, 'name' | 'sendBatch'> {
  readonly name = 'sink'
  sent = 0
  calls = 0
  bytes = 0
  async sendBatch(entries: SendBatchEntry[]): Promise<SendBatchResult> {
    this.calls++
    this.sent += entries.length
    for (const e of entries) this.bytes += e.body.length
    return { successful: entries.map((e, i) => ({ id: e.id, messageId: `m${this.calls}-${i}` })), failed: [] }
  }
}

export async function run(): Promise<BenchSection> {
  const t = await createTestDb('benchdisp')
  const pool = createPool({ schema: t.schema, max: 4 })
  try {
    const config = {
      audioFileUrl: 'https://example.test/a.mp3',
      ivrFlow: {
        startNodeId: 'n1',
        nodes: [{ id: 'n1', type: 'play_audio', audioUrl: 'https://example.test/a.mp3' }],
      },
      callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
      maxConcurrentCalls: 10_000_000,
      maxAttemptsPerContact: 3,
    }
    await pool.query(
      `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ('big', 'Bench', 'active', $1, 'UTC')`,
      [JSON.stringify(config)],
    )
    const loadStarted = performance.now()
    await pool.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, metadata, next_attempt_at)
       SELECT 'big', 'ct-' || g, '+9725' || lpad(g::text, 8, '0'), jsonb_build_object('firstName', 'N' || g),
              now() - interval '1 day' + g * interval '1 millisecond'
         FROM generate_series(1, $1::int) g`,
      [CONTACTS],
    )
    await pool.query('ANALYZE contacts')
    const loadSeconds = (performance.now() - loadStarted) / 1000

    const limits = { getLimit: async () => 1_000_000, horizonSeconds: 10 }
    const perSecond: number[] = []
    const callMs: number[] = []
    let sendCalls = 0
    for (let r = 0; r < RUNS; r++) {
      const queue = new SinkQueue()
      const started = performance.now()
      let queued = 0
      while (queued < PER_RUN) {
        const t0 = performance.now()
        const res = await dispatchOnce({
          db: pool,
          queue: queue as unknown as QueuePort,
          limits,
          campaignId: 'big',
        })
        callMs.push(performance.now() - t0)
        if (res.queued === 0)
          throw new Error('bench: the campaign ran out of eligible contacts; raise BENCH_DISPATCH_CONTACTS')
        queued += res.queued
      }
      perSecond.push(queued / ((performance.now() - started) / 1000))
      sendCalls += queue.calls
      await pool.query(`UPDATE contacts SET status = 'done' WHERE campaign_id = 'big' AND status = 'queued'`)
    }
    const s = stats(perSecond)
    const markdown = [
      `Campaign of ${CONTACTS.toLocaleString('en-US')} contacts (bulk-loaded in ${loadSeconds.toFixed(1)} s); ` +
        `${RUNS} runs of ${PER_RUN.toLocaleString('en-US')} contacts each, dispatchOnce claiming up to ` +
        `${DEFAULT_MAX_PER_RUN.toLocaleString('en-US')} per call; in-memory queue sink (no network).`,
      '',
      '| figure | median (min, max) |',
      '|---|---|',
      `| contacts queued per second | ${fmt(s)} |`,
      `| one dispatchOnce call (≤ ${DEFAULT_MAX_PER_RUN.toLocaleString('en-US')} contacts), ms p50 / p95 | ${percentile(callMs, 50).toFixed(0)} / ${percentile(callMs, 95).toFixed(0)} |`,
      `| SendMessageBatch calls | ${sendCalls.toLocaleString('en-US')} (10 entries each) |`,
    ].join('\n')
    return {
      title: 'Dispatcher throughput',
      markdown,
      json: {
        contacts: CONTACTS,
        perRun: PER_RUN,
        runs: RUNS,
        loadSeconds,
        contactsPerSecond: s,
        callMsP50: percentile(callMs, 50),
        callMsP95: percentile(callMs, 95),
        sendCalls,
      },
    }
  } finally {
    await pool.end()
    await t.drop()
  }
}
