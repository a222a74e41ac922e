/**
 * What DuplicateRows (src/contracts/contact-row.ts) holds for a large import: heap retained after
 * checking N distinct rows, for ids as import makes them without an id column (`c-<number>`, 14
 * characters) and for 200-character ids (SafeId's longest). A script, not a test: run
 *
 *   node --expose-gc --import tsx test/bench/duplicate-rows-memory.ts [rows=1000000]
 *
 * and copy the figures into DuplicateRows' docstring when its representation changes.
 */
import { DuplicateRows } from '../../src/contracts/contact-row.js'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')

function retained(
  rows: number,
  idOf: (i: number) => string,
): { mb: number; bytesPerRow: number; ms: number } {
  gc!()
  const before = process.memoryUsage().heapUsed
  const started = performance.now()
  const seen = new DuplicateRows()
  for (let i = 0; i < rows; i++) {
    const phoneNumber = `+1212${String(1_000_000 + i).padStart(7, '0')}`
    if (seen.check({ line: i + 2, id: idOf(i), phoneNumber }))
      throw new Error(`row ${i} taken for a duplicate`)
  }
  const ms = performance.now() - started
  gc!()
  const bytes = process.memoryUsage().heapUsed - before
  // keep `seen` alive until measured
  if (!seen.check({ line: 1, id: idOf(0), phoneNumber: '+12120000000' })) throw new Error('repeat not found')
  return { mb: Math.round(bytes / 1e5) / 10, bytesPerRow: Math.round(bytes / rows), ms: Math.round(ms) }
}

const rows = Number(process.argv[2] ?? 1_000_000)
const short = retained(rows, (i) => `c-1212${String(1_000_000 + i).padStart(7, '0')}`)
const long = retained(rows, (i) => `${'k'.repeat(190)}${String(i).padStart(10, '0')}`)
console.log(`${rows} rows, 14-character ids: ${short.mb} MB (${short.bytesPerRow} B/row), ${short.ms} ms`)
console.log(`${rows} rows, 200-character ids: ${long.mb} MB (${long.bytesPerRow} B/row), ${long.ms} ms`)
