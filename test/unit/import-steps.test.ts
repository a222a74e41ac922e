import { describe, expect, it, vi } from 'vitest'
import { importCsvStep, type ImportStreamOptions } from '../../src/control/import-stream.js'
import type { ContactRow } from '../../src/control/port.js'

/**
 * importCsvStep's stops, without stores: a step cut short by its signal mid-read returns the last
 * committed boundary, a step that stops at a boundary ends the read of its input, and one cut
 * short before committing anything is an error, never an empty continuation.
 */
const HEADER = 'id,phone_number\n'
const row = (i: number) => `k${i},+97252${String(1000000 + i)}\n`

/** The input: `parts`, then (if `hang`) nothing until the signal aborts the read, as fetch does. */
function source(parts: string[], signal: AbortSignal | undefined, hang: boolean, closed: { value: boolean }) {
  return async function* () {
    try {
      for (const p of parts) yield Buffer.from(p)
      if (hang)
        await new Promise((_, reject) => {
          if (signal?.aborted) reject(signal.reason)
          signal?.addEventListener('abort', () => reject(signal.reason))
        })
    } finally {
      closed.value = true
    }
  }
}

function options(
  parts: string[],
  extra: Partial<ImportStreamOptions> & { hang?: boolean } = {},
): { options: ImportStreamOptions; saved: ContactRow[][]; closed: { value: boolean } } {
  const saved: ContactRow[][] = []
  const closed = { value: false }
  return {
    saved,
    closed,
    options: {
      campaignId: 'c1',
      source: 'test.csv',
      csv: {},
      strict: false,
      chunkSize: 2,
      open: () => source(parts, extra.signal, extra.hang ?? false, closed)(),
      save: (campaignId, rows) => {
        saved.push(rows)
        return Promise.resolve({ campaignId, imported: rows.length, duplicates: 0, blacklisted: [] })
      },
      ...extra,
    },
  }
}

describe('importCsvStep', () => {
  it('cut short by its signal while the read waits: answers the last committed boundary', async () => {
    const stop = new AbortController()
    const text = HEADER + row(1) + row(2) + row(3)
    const run = options([text], { signal: stop.signal, hang: true })
    const original = run.options.save
    run.options.save = (id, rows) => original(id, rows).finally(() => stop.abort(new Error('time is up')))
    const step = await importCsvStep(run.options, null)
    expect(step).toMatchObject({
      done: false,
      position: {
        phase: 'import',
        at: { byteOffset: Buffer.byteLength(HEADER + row(1) + row(2)), line: 4 },
        totals: { imported: 2, valid: 2 },
      },
    })
    expect(run.saved.map((rows) => rows.map((r) => r.id))).toEqual([['k1', 'k2']])
  })

  it('a read that fails part-way after a committed chunk: answers that boundary when the error is resumable, fails otherwise', async () => {
    const dropped = new Error('other side closed')
    // the connection drops once the first chunk is committed (the rest of the body never comes)
    let committed = () => {}
    const failing = () =>
      (async function* () {
        const saved = new Promise<void>((resolve) => (committed = resolve))
        yield Buffer.from(HEADER + row(1) + row(2) + row(3))
        await saved
        throw dropped
      })()
    const resumable = options([], { open: failing, resumable: (e) => e === dropped })
    const save = resumable.options.save
    resumable.options.save = (id, rows) => save(id, rows).finally(() => committed())
    await expect(importCsvStep(resumable.options, null)).resolves.toMatchObject({
      done: false,
      position: { at: { line: 4 }, totals: { imported: 2 } },
    })
    const other = options([], { open: failing })
    const otherSave = other.options.save
    other.options.save = (id, rows) => otherSave(id, rows).finally(() => committed())
    await expect(importCsvStep(other.options, null)).rejects.toBe(dropped)
  })

  it('cut short before a chunk is committed: IMPORT_STALLED, not a continuation that goes nowhere', async () => {
    const stop = new AbortController()
    const run = options([HEADER + row(1)], { signal: stop.signal, hang: true })
    const step = importCsvStep(run.options, null)
    stop.abort(new Error('time is up'))
    await expect(step).rejects.toMatchObject({ code: 'IMPORT_STALLED' })
  })

  it('out of time at a boundary: stops there and ends the read of the rest', async () => {
    // an input that never ends: only the import stopping its read closes it
    const closed = { value: false }
    const endless = async function* () {
      try {
        yield Buffer.from(HEADER)
        for (let i = 1; ; i++) yield Buffer.from(row(i))
      } finally {
        closed.value = true
      }
    }
    const run = options([], { remainingMs: () => 0, open: () => endless() })
    const step = await importCsvStep(run.options, null)
    expect(step).toMatchObject({ done: false, position: { at: { line: 4 }, totals: { imported: 2 } } })
    await vi.waitFor(() => expect(closed.value).toBe(true))
    // and on from there: the rest, with the file's lines
    const next = options([row(3), row(4), row(5)], { remainingMs: () => 1 })
    const rest = await importCsvStep(next.options, step.done ? null : step.position)
    expect(rest).toMatchObject({ done: true, totals: { imported: 5, valid: 5 } })
    expect(next.saved.flat().map((r) => [r.id, r.line])).toEqual([
      ['k3', 4],
      ['k4', 5],
      ['k5', 6],
    ])
  })
})
