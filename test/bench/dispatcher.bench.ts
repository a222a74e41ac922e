/**
 * Dispatcher throughput into the real local queue, at two campaign sizes (default 1,000,000 and
 * 10,000,000 contacts; BENCH_DISPATCH_SIZES="1000000,10000000"; quick: 100,000 and 1,000,000).
 * Goal: contacts queued per second at the large size ≥ 0.9 × at the small one — a dispatch costs
 * what it dispatches, not what the campaign holds.
 *
 * Each size lives in its own schema, bulk-loaded with generate_series (the secondary indexes are
 * built after the load, as a bulk import would; the contact_counts triggers stay on, so the
 * counters are the real ones). Runs alternate between the sizes (small, large, small, …); each run
 * dispatches BENCH_DISPATCH_PER_RUN contacts (default 100,000; quick 20,000) through repeated
 * dispatchOnce calls of up to 10,000 into PgQueue.sendBatch on the same pool. Between runs (not
 * timed) the queue is emptied and the queued contacts are marked done, as the downstream would.
 * Afterwards EXPLAIN (ANALYZE, BUFFERS) of each statement of a dispatch at both sizes (the claim in
 * a rolled-back transaction).
 */
import type pg from 'pg'
import { createPool } from '../../src/db/pool.js'
import { CLAIM_SQL, DEMAND_SQL, INFLIGHT_SQL, QUEUED_ALL_SQL } from '../../src/dispatch/contacts.js'
import { dispatchOnce, DEFAULT_MAX_PER_RUN } from '../../src/dispatch/dispatch.js'
import { ensureLocalQueues, type PgQueue } from '../../src/queue/pg-queue.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { fmt, percentile, QUICK, stats, type BenchSection, type Stats } from './types.js'

const SIZES = (process.env.BENCH_DISPATCH_SIZES ?? (QUICK ? '100000,1000000' : '1000000,10000000'))
  .split(',')
  .map(Number)
const PER_RUN = Number(process.env.BENCH_DISPATCH_PER_RUN ?? (QUICK ? 20_000 : 100_000))
const RUNS = QUICK ? 3 : 5

const CONFIG = {
  audioFileUrl: 'https://example.test/a.mp3',
  ivrFlow: {
    startNodeId: 'n1',
    nodes: [{ id: 'n1', type: 'play_audio', audioUrl: 'https://example.test/a.mp3' }],
  },
  callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
  maxConcurrentCalls: 10_000_000,
  maxAttemptsPerContact: 3,
}

interface Setup {
  contacts: number
  db: TestDb
  pool: pg.Pool
  queue: PgQueue
  loadSeconds: number
  perSecond: number[]
  callMs: number[]
  explain: { statement: string; plan: string }[]
}

/** One schema holding one campaign of `contacts` contacts, loaded as fast as PostgreSQL allows. */
async function setUp(contacts: number): Promise<Setup> {
  const db = await createTestDb(`benchdisp${contacts}`)
  // Loading 10 M rows and rebuilding their indexes takes minutes on a busy machine: the pool's
  // default 30 s statement bound is for the pipeline's statements, not for this bulk load.
  const pool = createPool({ schema: db.schema, max: 6, queryTimeoutMs: 20 * 60_000 })
  const { queue } = await ensureLocalQueues(pool)
  await pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ('big', 'Bench', 'active', $1, 'UTC')`,
    [JSON.stringify(CONFIG)],
  )
  const started = performance.now()
  const client = await pool.connect()
  try {
    // Index definitions as migrated, rebuilt after the load (a sort instead of 10 M insertions).
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `SELECT indexname AS name, indexdef AS def FROM pg_indexes
        WHERE schemaname = current_schema() AND tablename = 'contacts' AND indexname <> 'contacts_pkey'`,
    )
    for (const i of indexes) await client.query(`DROP INDEX ${i.name}`)
    await client.query(`SET maintenance_work_mem = '256MB'`)
    await client.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, metadata, next_attempt_at)
       SELECT 'big', 'ct-' || g, '+9725' || lpad(g::text, 8, '0'), jsonb_build_object('firstName', 'N' || g),
              now() - interval '1 day' + g * interval '1 microsecond'
         FROM generate_series(1, $1::int) g`,
      [contacts],
    )
    for (const i of indexes) await client.query(i.def)
    await client.query('VACUUM ANALYZE contacts')
  } finally {
    client.release()
  }
  return {
    contacts,
    db,
    pool,
    queue,
    loadSeconds: (performance.now() - started) / 1000,
    perSecond: [],
    callMs: [],
    explain: [],
  }
}

async function measure(s: Setup): Promise<void> {
  const limits = { getLimit: async () => 1_000_000, horizonSeconds: 10 }
  const started = performance.now()
  let queued = 0
  while (queued < PER_RUN) {
    const t0 = performance.now()
    const res = await dispatchOnce({ db: s.pool, queue: s.queue, limits, campaignId: 'big' })
    s.callMs.push(performance.now() - t0)
    if (res.queued === 0)
      throw new Error(
        `bench: nothing left to queue at ${n(s.contacts)} contacts; raise BENCH_DISPATCH_SIZES or lower BENCH_DISPATCH_PER_RUN`,
      )
    queued += res.queued
  }
  s.perSecond.push(queued / ((performance.now() - started) / 1000))
  // the downstream's part, not timed
  await s.pool.query(`DELETE FROM queue_messages`)
  await s.pool.query(`UPDATE contacts SET status = 'done' WHERE campaign_id = 'big' AND status = 'queued'`)
}

async function explain(s: Setup): Promise<void> {
  const now = new Date()
  const client = await s.pool.connect()
  const plan = async (statement: string, sql: string, params: unknown[]) => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
      params,
    )
    s.explain.push({ statement, plan: rows.map((r) => r['QUERY PLAN']).join('\n') })
  }
  try {
    await client.query('BEGIN')
    await plan('fold the count deltas (compact_contact_counts)', 'SELECT compact_contact_counts($1)', ['big'])
    await plan('in flight of the campaign (countInflight)', INFLIGHT_SQL, ['big'])
    await plan('queued in every campaign (countQueuedAll)', QUEUED_ALL_SQL, [])
    await plan('claim 10,000 (claimEligible)', CLAIM_SQL, ['big', now, 3, DEFAULT_MAX_PER_RUN])
    await plan('demand after the run (campaignDemand)', DEMAND_SQL, ['big', now, 3])
  } finally {
    await client.query('ROLLBACK')
    client.release()
  }
}

const n = (v: number) => v.toLocaleString('en-US')

export async function run(): Promise<BenchSection> {
  const setups: Setup[] = []
  try {
    for (const size of SIZES) setups.push(await setUp(size))
    for (let r = 0; r < RUNS; r++) for (const s of setups) await measure(s)
    for (const s of setups) await explain(s)

    const rate = setups.map((s) => stats(s.perSecond))
    const small = setups[0]!
    const large = setups[setups.length - 1]!
    const ratio = rate[rate.length - 1]!.median / rate[0]!.median
    const rows = setups.map(
      (s, i) =>
        `| ${n(s.contacts)} | ${fmt(rate[i]!)} | ${percentile(s.callMs, 50).toFixed(0)} / ${percentile(s.callMs, 95).toFixed(0)} | ${s.loadSeconds.toFixed(0)} s |`,
    )
    const plans = setups.flatMap((s) =>
      s.explain.map((e) => `**${n(s.contacts)} contacts — ${e.statement}**\n\n\`\`\`\n${e.plan}\n\`\`\`\n`),
    )
    const goal = `${ratio.toFixed(2)} (goal ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'NOT met'})`
    const markdown = [
      `${RUNS} interleaved runs per size, each of ${n(PER_RUN)} contacts, dispatchOnce claiming up to ` +
        `${n(DEFAULT_MAX_PER_RUN)} per call into the real local queue (PgQueue.sendBatch, batches of 10, ` +
        `4 in flight) on one pool; one schema per size.`,
      '',
      '| campaign contacts | contacts queued per second, median (min, max) | one dispatchOnce call, ms p50 / p95 | bulk load |',
      '|---|---|---|---|',
      ...rows,
      '',
      `Queued/s at ${n(large.contacts)} ÷ at ${n(small.contacts)}: ${goal}.`,
      '',
      '<details><summary>EXPLAIN (ANALYZE, BUFFERS) of each statement of a dispatch</summary>',
      '',
      ...plans,
      '</details>',
    ].join('\n')
    const json: Record<string, unknown> = {
      perRun: PER_RUN,
      runs: RUNS,
      sizes: setups.map((s, i) => ({
        contacts: s.contacts,
        loadSeconds: s.loadSeconds,
        contactsPerSecond: rate[i] as Stats,
        callMsP50: percentile(s.callMs, 50),
        callMsP95: percentile(s.callMs, 95),
        explain: s.explain,
      })),
      ratioLargeToSmall: ratio,
    }
    return {
      title: 'Dispatcher throughput',
      markdown,
      json,
      summary: [
        `Dispatcher into the local queue: ${fmt(rate[0]!)} contacts queued/s at ${n(small.contacts)} contacts, ` +
          `${fmt(rate[rate.length - 1]!)} at ${n(large.contacts)}; ratio ${goal}.`,
      ],
    }
  } finally {
    for (const s of setups) {
      await s.pool.end()
      await s.db.drop()
    }
  }
}
