/**
 * The pipeline bench's anchor: the least code that does the I/O the local pipeline must do per
 * task, written here without our abstractions, on its own minimal tables (primary keys and the one
 * unique key the rule needs; no counters, no secondary indexes):
 *
 *   plain SKIP LOCKED receive of 10 → one limiter call (a Redis EVALSHA for the batch) → 10 HTTP
 *   POSTs (keep-alive) to an in-process worker → per task the dial gate's transaction, minimally
 *   (BEGIN; campaign FOR SHARE + contact FOR UPDATE in one statement; then, in a fresh snapshot
 *   after the locks, blacklist + earlier call checked and the call row inserted + the contact moved
 *   to dialing in one statement; COMMIT) → the callee presses 1: the donation row → the call ended
 *   and the contact done in one statement → one outcome insert for the 10 → one delete.
 *
 * Why the gate is in the anchor: the first anchor (insert the call, end it) predates the
 * dial gate, whose rules — campaign active, contact at this attempt, number not blacklisted, no
 * call for the attempt yet — must hold atomically at the moment of the dial (src/calls/gate.ts,
 * docs/contact-states.md). That transaction is I/O any correct pipeline does; the anchor does it
 * with the fewest round trips the rule allows (4 per claim). The donation is the sim callee's
 * key press (the bench's `dtmf: {'1': 1}`), recorded by the pipeline as it happens. What the
 * anchor leaves out is ours to make cheap: enrichment's lookup, dial markers, pipe counters, the
 * contact counters the dispatcher reads, validation, logging.
 *
 * `pollers` loops consume while one producer sends batches of 10. No validation, no retries, no
 * DLQ: what the pipeline's rate is measured against, not a pipeline.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { Agent, request } from 'undici'
import { burstRate, type BurstRate } from './types.js'

export interface MinimalPipeline {
  /** the rates of a burst of n tasks, from the first send to the ended calls (contacts set up before) */
  run(n: number): Promise<BurstRate>
  close(): Promise<void>
}

const ADMIT = `return redis.call('INCRBY', KEYS[1], ARGV[1])`

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS mini_queue (
     id bigserial PRIMARY KEY, body text NOT NULL, visible_at timestamptz NOT NULL DEFAULT now())`,
  'CREATE INDEX IF NOT EXISTS mini_queue_ready_idx ON mini_queue (visible_at, id)',
  `CREATE TABLE IF NOT EXISTS mini_campaigns (id text PRIMARY KEY, status text NOT NULL)`,
  `INSERT INTO mini_campaigns VALUES ('mini', 'active') ON CONFLICT DO NOTHING`,
  `CREATE TABLE IF NOT EXISTS mini_contacts (
     campaign_id text NOT NULL, id text NOT NULL, phone_number text NOT NULL, status text NOT NULL,
     attempts int NOT NULL DEFAULT 0, PRIMARY KEY (campaign_id, id))`,
  `CREATE TABLE IF NOT EXISTS mini_blacklist (phone_number text PRIMARY KEY)`,
  `CREATE TABLE IF NOT EXISTS mini_calls (
     call_id text PRIMARY KEY, campaign_id text NOT NULL, contact_id text NOT NULL, attempt int NOT NULL,
     status text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), ended_at timestamptz,
     UNIQUE (campaign_id, contact_id, attempt))`,
  `CREATE TABLE IF NOT EXISTS mini_donations (call_id text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS mini_outcomes (
     id bigserial PRIMARY KEY, call_id text NOT NULL, outcome text NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
]

interface Dial {
  callId: string
  campaignId: string
  contactId: string
  phoneNumber: string
  attempts: number
}

/** The dial gate's transaction, minimally: true when the call was claimed. */
async function claim(pool: pg.Pool, d: Dial): Promise<boolean> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query<{ status: string | null; attempts: number | null }>(
      `SELECT (SELECT status FROM mini_campaigns WHERE id = $1 FOR SHARE) AS status,
              (SELECT attempts FROM mini_contacts WHERE campaign_id = $1 AND id = $2 FOR UPDATE) AS attempts`,
      [d.campaignId, d.contactId],
    )
    const ok = rows[0]!.status === 'active' && rows[0]!.attempts === d.attempts
    const { rows: claimed } = await client.query<{ n: number }>(
      `WITH seen AS (
         SELECT EXISTS (SELECT 1 FROM mini_blacklist WHERE phone_number = $4) AS blacklisted,
                EXISTS (SELECT 1 FROM mini_calls WHERE campaign_id = $2 AND contact_id = $3 AND attempt = $5) AS called
       ), ins AS (
         INSERT INTO mini_calls (call_id, campaign_id, contact_id, attempt, status)
         SELECT $1, $2, $3, $5, 'dialing' FROM seen WHERE $6::boolean AND NOT blacklisted AND NOT called
         ON CONFLICT DO NOTHING RETURNING attempt
       ), upd AS (
         UPDATE mini_contacts SET status = 'dialing', attempts = attempts + 1
          WHERE campaign_id = $2 AND id = $3 AND EXISTS (SELECT 1 FROM ins) RETURNING 1
       )
       SELECT (SELECT count(*) FROM ins)::int AS n`,
      [d.callId, d.campaignId, d.contactId, d.phoneNumber, d.attempts, ok],
    )
    await client.query('COMMIT')
    return claimed[0]!.n === 1
  } finally {
    client.release()
  }
}

async function endCall(pool: pg.Pool, d: Dial): Promise<void> {
  await pool.query('INSERT INTO mini_donations (call_id) VALUES ($1)', [d.callId])
  await pool.query(
    `WITH c AS (UPDATE mini_calls SET status = 'answered', ended_at = now() WHERE call_id = $1
                RETURNING campaign_id, contact_id)
     UPDATE mini_contacts k SET status = 'done' FROM c WHERE k.campaign_id = c.campaign_id AND k.id = c.contact_id`,
    [d.callId],
  )
}

function startWorker(pool: pg.Pool, refused: { n: number }): Server {
  return createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString()))
    req.on('end', () => {
      const d = JSON.parse(text) as Dial
      void (async () => {
        const claimed = await claim(pool, d)
        res.writeHead(claimed ? 202 : 409, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ callId: d.callId }))
        if (claimed) await endCall(pool, d)
        else refused.n++
      })()
    })
  })
}

export async function startMinimalPipeline(
  pool: pg.Pool,
  redis: Redis,
  options: { pollers: number; prefix: string },
): Promise<MinimalPipeline> {
  for (const statement of SCHEMA) await pool.query(statement)
  const sha = (await redis.script('LOAD', ADMIT)) as string

  const refused = { n: 0 }
  const server = startWorker(pool, refused)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dial`
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  let label = 0

  return {
    async run(n) {
      const run = `r${label++}`
      const contactIds = Array.from({ length: n }, (_, i) => `${run}-${i}`)
      const phone = (i: number) => `+1555${String(i).padStart(7, '0')}`
      // as the pipeline bench queues its contacts: set up before the clock starts
      await pool.query(
        `INSERT INTO mini_contacts (campaign_id, id, phone_number, status)
         SELECT 'mini', id, phone, 'queued' FROM unnest($1::text[], $2::text[]) AS t(id, phone)`,
        [contactIds, contactIds.map((_, i) => phone(i))],
      )
      const started = Date.now()
      let left = n
      const body = (i: number) =>
        JSON.stringify({ campaignId: 'mini', contactId: contactIds[i], phoneNumber: phone(i), attempts: 0 })
      await Promise.all([
        (async () => {
          for (let i = 0; i < n; i += 10)
            await pool.query({
              text: 'INSERT INTO mini_queue (body) SELECT unnest($1::text[])',
              values: [Array.from({ length: Math.min(10, n - i) }, (_, j) => body(i + j))],
            })
        })(),
        ...Array.from({ length: options.pollers }, async () => {
          while (left > 0) {
            const { rows } = await pool.query<{ id: string; body: string }>({
              text: `UPDATE mini_queue SET visible_at = now() + interval '30 seconds'
                      WHERE id IN (SELECT id FROM mini_queue WHERE visible_at <= now()
                                    ORDER BY visible_at, id LIMIT 10 FOR UPDATE SKIP LOCKED)
                      RETURNING id, body`,
            })
            if (rows.length === 0) {
              await new Promise((r) => setTimeout(r, 5))
              continue
            }
            left -= rows.length
            await redis.evalsha(sha, 1, `${options.prefix}mini`, rows.length)
            const results = await Promise.all(
              rows.map(async (r) => {
                const t = JSON.parse(r.body) as Omit<Dial, 'callId'>
                const res = await request(url, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ callId: `call-${t.contactId}`, ...t }),
                  dispatcher: agent,
                })
                const { callId } = (await res.body.json()) as { callId: string }
                return { callId, outcome: res.statusCode === 202 ? 'dialed' : 'dropped' }
              }),
            )
            await pool.query(
              `INSERT INTO mini_outcomes (call_id, outcome) SELECT * FROM unnest($1::text[], $2::text[])`,
              [results.map((r) => r.callId), results.map((r) => r.outcome)],
            )
            await pool.query({
              text: 'DELETE FROM mini_queue WHERE id = ANY($1::bigint[])',
              values: [rows.map((r) => r.id)],
            })
          }
        }),
      ])
      // timed from the ended calls, as the pipeline's rate is
      for (;;) {
        const { rows } = await pool.query<{ done: string }>(
          `SELECT count(*) AS done FROM mini_calls WHERE call_id LIKE $1 AND ended_at IS NOT NULL`,
          [`call-${run}-%`],
        )
        if (Number(rows[0]!.done) >= n) {
          const ended = await pool.query<{ ms: string }>(
            `SELECT extract(epoch FROM ended_at) * 1000 AS ms FROM mini_calls WHERE call_id LIKE $1`,
            [`call-${run}-%`],
          )
          return burstRate(
            ended.rows.map((r) => Number(r.ms)),
            started,
          )
        }
        if (refused.n > 0)
          throw new Error(`minimal pipeline: ${refused.n} dials refused; its contacts are wrong`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    async close() {
      await agent.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
