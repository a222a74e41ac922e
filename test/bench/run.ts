/**
 * `npm run bench`: runs every test/bench/*.bench.ts (each exports `run(): Promise<BenchSection>`)
 * in one process, prints what each measured and writes bench-report/report.md and report.json.
 * `npm run bench -- limiter` runs only the benches whose file name contains "limiter".
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { BenchSection } from './types.js'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()

const machine = {
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  date: new Date().toISOString(),
}

const sections: BenchSection[] = []
for (const file of files) {
  const started = Date.now()
  process.stdout.write(`\n▶ ${file}\n`)
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { run: () => Promise<BenchSection> }
  const section = await mod.run()
  sections.push(section)
  process.stdout.write(`${section.markdown}\n(${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
}

const outDir = join(here, '..', '..', 'bench-report')
mkdirSync(outDir, { recursive: true })
const md = [
  '# dialctl benchmark report',
  '',
  `Machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}. Run at ${machine.date}.`,
  '',
  ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown, '']),
].join('\n')
writeFileSync(join(outDir, 'report.md'), md)
writeFileSync(
  join(outDir, 'report.json'),
  JSON.stringify({ machine, sections: sections.map((s) => ({ title: s.title, ...s.json })) }, null, 2),
)
console.log(`\nReport: ${join(outDir, 'report.md')}`)
process.exit(0)
