/**
 * The pipeline bench's anchor: the least code that does the local pipeline's I/O per task, written
 * here without our abstractions — a plain SKIP LOCKED receive of 10 → one limiter call (a Redis
 * EVALSHA for the batch) → 10 HTTP POSTs (keep-alive) to an in-process worker that inserts the
 * call and ends it (2 statements) → one outcome insert for the 10 → one delete. `pollers` loops
 * consume while one producer sends batches of 10. No validation, no retries, no DLQ: what the
 * pipeline's rate is measured against, not a pipeline.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { Agent, request } from 'undici'

export interface MinimalPipeline {
  /** tasks/s from the first send to the last ended call, for n tasks */
  run(n: number): Promise<number>
  close(): Promise<void>
}

const ADMIT = `return redis.call('INCRBY', KEYS[1], ARGV[1])`

export async function startMinimalPipeline(
  pool: pg.Pool,
  redis: Redis,
  options: { pollers: number; prefix: string },
): Promise<MinimalPipeline> {
  await pool.query(`CREATE TABLE IF NOT EXISTS mini_queue (
    id bigserial PRIMARY KEY, body text NOT NULL, visible_at timestamptz NOT NULL DEFAULT now())`)
  await pool.query('CREATE INDEX IF NOT EXISTS mini_queue_ready_idx ON mini_queue (visible_at, id)')
  await pool.query(`CREATE TABLE IF NOT EXISTS mini_calls (
    call_id text PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT now(), ended_at timestamptz)`)
  await pool.query(`CREATE TABLE IF NOT EXISTS mini_outcomes (
    id bigserial PRIMARY KEY, call_id text NOT NULL, outcome text NOT NULL, at timestamptz NOT NULL DEFAULT now())`)
  const sha = (await redis.script('LOAD', ADMIT)) as string

  const server: Server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString()))
    req.on('end', () => {
      const { callId } = JSON.parse(text) as { callId: string }
      void (async () => {
        await pool.query('INSERT INTO mini_calls (call_id) VALUES ($1)', [callId])
        res.writeHead(202, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ callId }))
        await pool.query('UPDATE mini_calls SET ended_at = now() WHERE call_id = $1', [callId])
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dial`
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  let label = 0

  return {
    async run(n) {
      const run = `r${label++}`
      const started = Date.now()
      let left = n
      const body = (i: number) =>
        JSON.stringify({
          campaignId: 'mini',
          contactId: `${run}-${i}`,
          phoneNumber: '+15555550100',
          attempts: 0,
        })
      await Promise.all([
        (async () => {
          for (let i = 0; i < n; i += 10)
            await pool.query('INSERT INTO mini_queue (body) SELECT unnest($1::text[])', [
              Array.from({ length: Math.min(10, n - i) }, (_, j) => body(i + j)),
            ])
        })(),
        ...Array.from({ length: options.pollers }, async () => {
          while (left > 0) {
            const { rows } = await pool.query<{ id: string; body: string }>(
              `UPDATE mini_queue SET visible_at = now() + interval '30 seconds'
                WHERE id IN (SELECT id FROM mini_queue WHERE visible_at <= now()
                              ORDER BY visible_at, id LIMIT 10 FOR UPDATE SKIP LOCKED)
                RETURNING id, body`,
            )
            if (rows.length === 0) {
              await new Promise((r) => setTimeout(r, 5))
              continue
            }
            left -= rows.length
            await redis.evalsha(sha, 1, `${options.prefix}mini`, rows.length)
            const callIds = await Promise.all(
              rows.map(async (r) => {
                const t = JSON.parse(r.body) as { contactId: string }
                const res = await request(url, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ callId: `call-${t.contactId}`, ...t }),
                  dispatcher: agent,
                })
                return ((await res.body.json()) as { callId: string }).callId
              }),
            )
            await pool.query(
              `INSERT INTO mini_outcomes (call_id, outcome) SELECT unnest($1::text[]), 'dialed'`,
              [callIds],
            )
            await pool.query('DELETE FROM mini_queue WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)])
          }
        }),
      ])
      // the rate ends at the last ended call, as the pipeline's does
      for (;;) {
        const { rows } = await pool.query<{ done: string; last: string | null }>(
          `SELECT count(*) AS done, extract(epoch FROM max(ended_at)) * 1000 AS last
             FROM mini_calls WHERE call_id LIKE $1 AND ended_at IS NOT NULL`,
          [`call-${run}-%`],
        )
        if (Number(rows[0]!.done) >= n) return n / ((Number(rows[0]!.last) - started) / 1000)
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
