/**
 * `npm run bench`: runs every test/bench/*.bench.ts (each exports `run(): Promise<BenchSection>`)
 * one after the other in one process, prints what each measured and writes bench-report/report.md,
 * report.json and the charts the sections return (SVG).
 *
 *   npm run bench                  every bench
 *   npm run bench -- limiter cli   only the benches whose file name contains "limiter" or "cli"
 *   BENCH_QUICK=1 npm run bench    smaller counts and fewer runs (a quick look; noisier figures)
 *   BENCH_OUT=dir npm run bench    write the report to dir instead of bench-report/
 *
 * A bench that throws does not stop the others: the report shows it as FAILED with the error,
 * and the command exits 1 after writing the report.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fmt, QUICK, type BenchSection, type Stats } from './types.js'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
if (files.length === 0) {
  console.error(`No bench file matches ${only.join(', ')}. Bench files: test/bench/*.bench.ts`)
  process.exit(2)
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: here,
      encoding: 'utf8',
    }).trim()
    return dirty ? `${rev} (with uncommitted changes)` : rev
  } catch {
    return 'unknown'
  }
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')
const machine = {
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  date: new Date().toISOString(),
  revision: gitRevision(),
  quick: QUICK,
  loadAverageAtStart: load(),
  loadAverageAtEnd: '',
}

interface Ran {
  file: string
  seconds: number
  section?: BenchSection
  error?: string
}

const ran: Ran[] = []
const benchStarted = Date.now()
for (const file of files) {
  const started = Date.now()
  process.stdout.write(`\n▶ ${file}\n`)
  try {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { run?: () => Promise<BenchSection> }
    if (typeof mod.run !== 'function') throw new Error(`${file} exports no run(): Promise<BenchSection>`)
    const section = await mod.run()
    const seconds = (Date.now() - started) / 1000
    ran.push({ file, seconds, section })
    process.stdout.write(`${section.markdown}\n(${seconds.toFixed(1)} s)\n`)
  } catch (error) {
    const seconds = (Date.now() - started) / 1000
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    ran.push({ file, seconds, error: message })
    process.stdout.write(`FAILED after ${seconds.toFixed(1)} s: ${message}\n`)
  }
}
machine.loadAverageAtEnd = load()
const totalSeconds = (Date.now() - benchStarted) / 1000

// ---- headline lines: a section's own summary, else what the runner knows of its figures ----

const isStats = (v: unknown): v is Stats =>
  typeof v === 'object' && v !== null && typeof (v as Stats).median === 'number'

/** Summaries for sections written before `summary` existed, from their JSON; [] if the shape differs. */
function derivedSummary(section: BenchSection): string[] {
  const j = section.json as Record<string, unknown>
  try {
    if (Array.isArray(j.results) && section.title === 'CPS limiter') {
      const rows = j.results as Array<{ name: string; admits: boolean; s: Record<string, Stats> }>
      const parts = rows.map((r) =>
        r.admits
          ? `${r.name} ${fmt(r.s.decisionsPerSec!)} decisions/s, worst 1000 ms window ${r.s.worst!.max}`
          : `${r.name} ${fmt(r.s.decisionsPerSec!)} calls/s`,
      )
      return [`Limiter at ${String(j.callers)} callers, limit ${String(j.limit)}: ${parts.join('; ')}.`]
    }
    if (isStats(j.sendReceiveDelete))
      return [
        `Local queue: send + receive + delete ${fmt(j.sendReceiveDelete)} messages/s` +
          (isStats(j.receiveDelete4)
            ? `; receive + delete with 4 consumers ${fmt(j.receiveDelete4)}/s.`
            : '.'),
      ]
    if (typeof j.ms === 'object' && j.ms !== null) {
      const rows = Object.entries(j.ms as Record<string, unknown>).filter(([, v]) => isStats(v)) as Array<
        [string, Stats]
      >
      const base = rows.find(([name]) => name.startsWith('node '))
      const others = rows.filter((r) => r !== base)
      if (base && others.length)
        return [
          `CLI wall time: ${others.map(([name, s]) => `\`${name}\` ${fmt(s)} ms`).join(', ')} vs ` +
            `\`${base[0]}\` ${fmt(base[1])} ms.`,
        ]
    }
    if (isStats(j.contactsPerSecond)) return [`Dispatcher: ${fmt(j.contactsPerSecond)} contacts queued/s.`]
    if (typeof j.capacity === 'object' && j.capacity !== null) {
      const cap = j.capacity as Record<string, Record<string, Stats>>
      const n = Object.keys(cap)
        .map(Number)
        .sort((a, b) => b - a)[0]
      const c = n === undefined ? undefined : cap[String(n)]
      if (c?.heapPerCallBytes && c.loopP99Ms)
        return [
          `Worker: ${n} concurrent simulated calls in one process, ${fmt(c.heapPerCallBytes)} bytes of heap per call, ` +
            `event-loop p99 ${fmt(c.loopP99Ms, 1)} ms.`,
        ]
    }
  } catch {
    // an unexpected shape: the section's own table still says it all
  }
  return []
}

const summary = ran.flatMap((r) => {
  if (r.error) return [`**${r.file} FAILED** — see its section.`]
  const lines = r.section!.summary ?? derivedSummary(r.section!)
  return lines.length ? lines : [`${r.section!.title}: see its section.`]
})

// ---- report ----

// BENCH_OUT: another directory, so two runs (or a run and a report being read) do not collide
const outDir = process.env.BENCH_OUT ?? join(here, '..', '..', 'bench-report')
mkdirSync(outDir, { recursive: true })
const written: string[] = []
for (const r of ran)
  for (const [name, content] of Object.entries(r.section?.files ?? {})) {
    const safe = basename(name)
    writeFileSync(join(outDir, safe), content)
    written.push(safe)
  }

const titleOf = (r: Ran) => r.section?.title ?? `${r.file} (FAILED)`
const md = [
  '# dialctl benchmark report',
  '',
  `Machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}. ` +
    `Run at ${machine.date} on revision ${machine.revision}${QUICK ? ', **BENCH_QUICK=1** (reduced counts)' : ''}. ` +
    `Load average (1/5/15 min) ${machine.loadAverageAtStart} at the start, ${machine.loadAverageAtEnd} at the end: ` +
    `other work on the machine shows up in the min–max spreads. Total ${(totalSeconds / 60).toFixed(1)} min.`,
  '',
  'Every figure is the median of several runs with min and max, measured in this one run.',
  '',
  '## Summary',
  '',
  ...summary.map((l) => `- ${l}`),
  '',
  '| section | file | time |',
  '|---|---|---:|',
  ...ran.map((r) => `| ${titleOf(r)} | ${r.file} | ${r.seconds.toFixed(1)} s |`),
  '',
  ...ran.flatMap((r) =>
    r.section
      ? [`## ${r.section.title}`, '', r.section.markdown, '']
      : [`## ${titleOf(r)}`, '', '```', r.error!, '```', ''],
  ),
].join('\n')
writeFileSync(join(outDir, 'report.md'), md)
writeFileSync(
  join(outDir, 'report.json'),
  JSON.stringify(
    {
      machine,
      totalSeconds,
      summary,
      sections: ran.map((r) =>
        r.section
          ? { file: r.file, seconds: r.seconds, title: r.section.title, ...r.section.json }
          : { file: r.file, seconds: r.seconds, error: r.error },
      ),
    },
    null,
    2,
  ),
)
console.log(
  `\nReport: ${join(outDir, 'report.md')}${written.length ? ` (charts: ${written.join(', ')})` : ''}`,
)
console.log(`Total: ${(totalSeconds / 60).toFixed(1)} min`)
process.exit(ran.some((r) => r.error) ? 1 : 0)
