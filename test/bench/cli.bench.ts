/**
 * CLI start-up cost: wall time of `dialctl --version` and `dialctl cps get` (local stage, real
 * Redis) against `node -e 0` on the same machine, each spawned 10 times (median, min, max),
 * interleaved: round r runs every command once, so a burst of load hits them all alike. And
 * `cps get` side by side with its anchor: a bare Node process that loads ioredis, connects and
 * reads the same keys (limit, pacer history, degraded marker) in one round trip. The goal
 * (issue #16): `cps get` within 2× the anchor.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmt, QUICK, stats, type BenchSection, type Stats } from './types.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
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
  const rows = interleaved(
    {
      'node -e 0': ['-e', '0'],
      'node + ioredis, same keys (anchor)': anchor,
      'dialctl --version': ['bin/run.js', '--version'],
      'dialctl cps get': ['bin/run.js', 'cps', 'get'],
      'dialctl cps get --json': ['bin/run.js', 'cps', 'get', '--json'],
    },
    env,
  )
  const base = rows['node -e 0']!.median
  const ratio = rows['dialctl cps get']!.median / rows['node + ioredis, same keys (anchor)']!.median
  const markdown = [
    `${RUNS} rounds after one warm-up round, each round spawning every command once (interleaved); wall time in ms, median (min, max). `,
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
