import { mkdirSync, writeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Table from 'cli-table3'

/** One row of the suite's final table: what a scenario pushed and where every task ended. */
export interface ScenarioResult {
  scenario: string
  /** tasks (or inputs, for the fuzzing rows) the scenario pushed */
  tasks: number
  /** final outcomes, e.g. { dialed: 40, dropped: 5, dlq: 2 } */
  outcomes: Record<string, number>
  lost: number
  duplicated: number
  seconds: number
  /** what was injected and anything a reader should know (one line) */
  note?: string
}

/** Set by the suite's global setup: every test file (its own process) writes its rows here. */
export const RESULTS_DIR_ENV = 'DIALCTL_FAULTS_RESULTS_DIR'

function resultsDir(): string {
  const dir = process.env[RESULTS_DIR_ENV] ?? join(tmpdir(), `dialctl-faults-${process.ppid}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

export function recordResult(result: ScenarioResult): void {
  const slug = result.scenario.replace(/[^a-z0-9]+/gi, '-').toLowerCase()
  writeFileSync(join(resultsDir(), `${slug}.json`), JSON.stringify(result, null, 2))
  // straight to fd 2: a scenario may be capturing process.stdout / stderr (its logs) to scan them
  writeSync(2, `[faults] ${formatLine(result)}\n`)
}

export function readResults(dir: string): ScenarioResult[] {
  let files: string[] = []
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch {
    return []
  }
  return files
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioResult)
    .sort((a, b) => a.scenario.localeCompare(b.scenario))
}

export function formatOutcomes(outcomes: Record<string, number>): string {
  return (
    Object.entries(outcomes)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || '-'
  )
}

function formatLine(r: ScenarioResult): string {
  return `${r.scenario}: ${r.tasks} tasks → ${formatOutcomes(r.outcomes)}; lost ${r.lost}, duplicated ${r.duplicated}, ${r.seconds.toFixed(1)} s`
}

export function renderTable(results: ScenarioResult[]): string {
  const table = new Table({
    head: ['scenario', 'tasks', 'outcomes', 'lost', 'duplicated', 'time'],
    style: { head: [], border: [] },
  })
  for (const r of results)
    table.push([
      r.scenario,
      r.tasks,
      formatOutcomes(r.outcomes),
      r.lost,
      r.duplicated,
      `${r.seconds.toFixed(1)} s`,
    ])
  return table.toString()
}

export function renderMarkdown(
  results: ScenarioResult[],
  meta: { date: string; totalSeconds: number },
): string {
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.tasks} | ${formatOutcomes(r.outcomes)} | ${r.lost} | ${r.duplicated} | ${r.seconds.toFixed(1)} s | ${(r.note ?? '').replaceAll('|', '\\|')} |`,
  )
  return [
    '# Fault-injection suite: last run',
    '',
    `Run ${meta.date}, ${results.length} scenarios, ${meta.totalSeconds.toFixed(0)} s in all (\`npm run test:faults\`).`,
    'Conservation law checked in every row: each task ends in exactly one outcome (dialed once,',
    'dropped with a reason, or in the DLQ); `lost` and `duplicated` must be 0.',
    '',
    '| scenario | tasks | outcomes | lost | duplicated | time | injected / notes |',
    '| --- | ---: | --- | ---: | ---: | ---: | --- |',
    ...rows,
    '',
  ].join('\n')
}
