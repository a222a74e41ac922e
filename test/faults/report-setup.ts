import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readResults, renderMarkdown, renderTable, RESULTS_DIR_ENV } from './helpers/results.js'

/**
 * Global setup of `npm run test:faults`: gives every test file (each runs in its own process) a
 * directory for its scenario rows, and at the end prints the suite's table and writes
 * test/faults/report.md.
 */
export default function setup(): () => void {
  const started = Date.now()
  const dir = mkdtempSync(join(tmpdir(), 'dialctl-faults-'))
  // Set before the test processes start: they inherit the environment.
  process.env[RESULTS_DIR_ENV] = dir
  return () => {
    const results = readResults(dir)
    rmSync(dir, { recursive: true, force: true })
    if (results.length === 0) return
    const totalSeconds = (Date.now() - started) / 1000
    console.log(`\nFault-injection suite (${results.length} scenarios, ${totalSeconds.toFixed(0)} s)`)
    console.log(renderTable(results))
    const lost = results.reduce((n, r) => n + r.lost, 0)
    const duplicated = results.reduce((n, r) => n + r.duplicated, 0)
    console.log(`lost ${lost}, duplicated ${duplicated}`)
    const report = join(dirname(fileURLToPath(import.meta.url)), 'report.md')
    writeFileSync(report, renderMarkdown(results, { date: new Date().toISOString(), totalSeconds }))
    console.log(`report: ${report}`)
  }
}
