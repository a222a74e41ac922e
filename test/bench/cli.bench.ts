/**
 * CLI start-up cost: wall time of `dialctl --version` and `dialctl cps get` (local stage, real
 * Redis) against `node -e 0` on the same machine, each spawned 10 times (median, min, max),
 * interleaved: round r runs every command once, so a burst of load hits them all alike. And
 * `cps get` side by side with its anchor: a bare Node process doing the same I/O as `cps get` —
 * it loads ioredis and pg, connects to both stores, reads the same Redis keys (server time, the
 * limit, the pacer history) in one round trip and the same PostgreSQL row (this prefix's
 * `pacing_state` row: the pacing mode and hold) over one connection. The goal (issue #16):
 * `cps get` within 2× the anchor.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createTestDb } from '../helpers/db.js'
import { buildOnce, root } from './built.js'
import { fmt, QUICK, stats, type BenchSection, type Stats } from './types.js'

const RUNS = QUICK ? 5 : 10

function spawnMs(args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint()
  const out = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (out.status !== 0) throw new Error(`${args.join(' ')} exited ${out.status}: ${out.stderr}`)
  return ms
}

/** Each command once per round, RUNS rounds, after one warm-up round (file system cache). */
function interleaved(commands: Record<string, string[]>, env: NodeJS.ProcessEnv): Record<string, Stats> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (let i = 0; i <= RUNS; i++)
    for (const [name, args] of Object.entries(commands)) {
      const ms = spawnMs(args, env)
      if (i > 0) samples[name]!.push(ms)
    }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]))
}

export async function run(): Promise<BenchSection> {
  buildOnce('cli.bench')
  // a fresh migrated schema: `cps get` reads its pacing_state table (no row: mode auto)
  const db = await createTestDb('bench_cli')
  const env = {
    ...process.env,
    NO_COLOR: '1',
    DIALCTL_STAGE: 'local',
    // an empty key space: `cps get` reads the default limit and an empty history
    DIALCTL_REDIS_PREFIX: `bench:cli:${randomBytes(4).toString('hex')}:`,
    // both read the same migrated schema of the same database
    ...db.env,
  }
  const prefix = env.DIALCTL_REDIS_PREFIX
  // The anchor: what `cps get` must do at the least, in plain Node — the same keys and the same
  // row (src/pacing/limit-store.ts getLimit + control, src/pacing/history.ts), both stores at once.
  const schema = db.schema
  const anchor = [
    '--input-type=module',
    '-e',
    `const [{ Redis }, { default: pg }] = await Promise.all([import('ioredis'), import('pg')])
     const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true })
     const c = new pg.Client({ connectionString: process.env.DATABASE_URL${
       schema ? `, options: ${JSON.stringify(`-c search_path="${schema}"`)}` : ''
     } })
     const p = ${JSON.stringify(prefix)}
     await Promise.all([
       r.connect().then(() => r.pipeline().time().get(p + 'cps:limit').hgetall(p + 'cps:pacer').exec()),
       c.connect().then(() => c.query(
         'SELECT cps_limit, held_by, held_until, hold_reason, changed_at, changed_by, change_source, change_reason FROM pacing_state WHERE scope = $1',
         [p],
       )),
     ])
     r.disconnect()
     await c.end()`,
  ]
  const ANCHOR = 'node + ioredis + pg, same keys and row (anchor)'
  let rows: Record<string, Stats>
  try {
    rows = interleaved(
      {
        'node -e 0': ['-e', '0'],
        [ANCHOR]: anchor,
        'dialctl --version': ['bin/run.js', '--version'],
        'dialctl cps get': ['bin/run.js', 'cps', 'get'],
        'dialctl cps get --json': ['bin/run.js', 'cps', 'get', '--json'],
      },
      env,
    )
  } finally {
    await db.drop()
  }
  const base = rows['node -e 0']!.median
  const ratio = rows['dialctl cps get']!.median / rows[ANCHOR]!.median
  const markdown = [
    `${RUNS} rounds after one warm-up round, each round spawning every command once (interleaved); wall time in ms, median (min, max). `,
    '`cps get` reads the live limit and the 60 s history from the local Redis, and the pacing mode and hold (`pacing_state`) from PostgreSQL; ' +
      'the anchor is a bare Node process (ioredis + pg) reading the same keys and the same row.',
    '',
    '| command | wall time (ms) | over `node -e 0` (median) |',
    '|---|---|---|',
    ...Object.entries(rows).map(
      ([name, s]) =>
        `| \`${name}\` | ${fmt(s)} | ${name === 'node -e 0' ? '—' : `+${Math.round(s.median - base)}`} |`,
    ),
    '',
    `\`dialctl cps get\` takes ${ratio.toFixed(2)}× the anchor (median over median; goal ≤ 2×).`,
  ].join('\n')
  return {
    title: 'CLI start-up time',
    markdown,
    json: { runs: RUNS, ms: rows, cpsGetOverAnchor: ratio, goal: 2 },
  }
}
