/**
 * CLI start-up cost: wall time of `dialctl --version` and `dialctl cps get` (local stage, real
 * Redis) against `node -e 0` on the same machine, each spawned 10 times (median, min, max); and
 * `cps get` side by side with its anchor: a bare Node process that loads ioredis, connects and
 * reads the same keys (limit, pacer history, degraded marker) in one round trip. The goal
 * (issue #16): `cps get` within 2× the anchor.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmt, stats, type BenchSection, type Stats } from './types.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RUNS = 10

function time(args: string[], env: NodeJS.ProcessEnv): Stats {
  const samples: number[] = []
  // one warm-up run (file system cache), not counted
  for (let i = 0; i <= RUNS; i++) {
    const started = process.hrtime.bigint()
    const out = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' })
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (out.status !== 0) throw new Error(`${args.join(' ')} exited ${out.status}: ${out.stderr}`)
    if (i > 0) samples.push(ms)
  }
  return stats(samples)
}

export async function run(): Promise<BenchSection> {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, encoding: 'utf8' })
  if (build.status !== 0) console.warn('cli.bench: build reported errors; timing the emitted code')
  const env = {
    ...process.env,
    NO_COLOR: '1',
    DIALCTL_STAGE: 'local',
    // an empty key space: `cps get` reads the default limit and an empty history
    DIALCTL_REDIS_PREFIX: `bench:cli:${randomBytes(4).toString('hex')}:`,
  }
  const prefix = env.DIALCTL_REDIS_PREFIX
  // The anchor: what `cps get` must do at the least, in plain Node.
  const anchor = [
    '--input-type=module',
    '-e',
    `const { Redis } = await import('ioredis')
     const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true })
     await r.connect()
     const p = ${JSON.stringify(prefix)}
     await r.pipeline().time().get(p + 'cps:limit').hgetall(p + 'cps:pacer').get(p + 'cps:degraded').exec()
     r.disconnect()`,
  ]
  const rows = {
    'node -e 0': time(['-e', '0'], env),
    'node + ioredis, same keys (anchor)': time(anchor, env),
    'dialctl --version': time(['bin/run.js', '--version'], env),
    'dialctl cps get': time(['bin/run.js', 'cps', 'get'], env),
    'dialctl cps get --json': time(['bin/run.js', 'cps', 'get', '--json'], env),
  }
  const base = rows['node -e 0'].median
  const ratio = rows['dialctl cps get'].median / rows['node + ioredis, same keys (anchor)'].median
  const markdown = [
    `Each command spawned ${RUNS} times after one warm-up run; wall time in ms, median (min, max). `,
    '`cps get` reads the live limit and the 60 s history from the local Redis.',
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
