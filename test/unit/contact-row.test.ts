import { describe, expect, it } from 'vitest'
import {
  contactRowProblem,
  contactRowsProblems,
  DialTask,
  DuplicateRows,
  ShardedMap,
} from '../../src/contracts/index.js'

// The one rule for a contact row (issue #15), shared by the CSV import and the control API.
const ok = { id: 'k1', phoneNumber: '+442079460001', metadata: { note: 'line one\nline two\ttab' } }

describe('contact rows', () => {
  const table: [
    string,
    Partial<typeof ok> & { timezone?: string },
    string | undefined,
    RegExp | undefined,
  ][] = [
    ['a valid row (metadata with a line break and a tab)', {}, undefined, undefined],
    ['an id of 200 characters', { id: 'k'.repeat(200) }, undefined, undefined],
    ['an id over 200 characters', { id: 'k'.repeat(201) }, 'id', /is 201 characters; an id has at most 200/],
    ['an empty id', { id: '' }, 'id', /./],
    ['an id with a line break', { id: 'k\n1' }, 'id', /control characters/],
    ['a national number', { phoneNumber: '2125550101' }, 'phoneNumber', /E\.164/],
    ['an unknown zone', { timezone: 'Mars/Olympus' }, 'timezone', /IANA/],
    ['an ESC in the metadata', { metadata: { note: '\u001b[31mred' } }, 'metadata', /control characters/],
    ['a NUL in the metadata', { metadata: { note: 'a\u0000b' } }, 'metadata', /control characters/],
    ['a task over the size limit', { metadata: { note: 'x'.repeat(70_000) } }, 'row', /limit is 65536/],
  ]
  it.each(table)('%s', (_what, change, field, message) => {
    const problem = contactRowProblem({ ...ok, ...change }, 'camp')
    if (!field) expect(problem).toBeUndefined()
    else expect(problem).toEqual({ field, message: expect.stringMatching(message!) })
  })

  it('a row it accepts is a dial task the dispatcher can send (same rules as DialTask)', () => {
    expect(
      DialTask.safeParse({
        campaignId: 'c',
        contactId: ok.id,
        phoneNumber: ok.phoneNumber,
        metadata: ok.metadata,
        attempts: 0,
      }).success,
    ).toBe(true)
  })

  it('duplicates in one batch: the first line wins, later lines name it', () => {
    expect(
      contactRowsProblems(
        [
          { line: 2, ...ok },
          { line: 3, ...ok },
          { line: 4, ...ok, id: 'k2' },
          { line: 5, ...ok, id: 'k'.repeat(201) },
        ],
        'camp',
      ),
    ).toEqual([
      { line: 3, field: 'id', message: 'duplicates line 2 (same id); the first line is kept' },
      { line: 4, field: 'phoneNumber', message: 'duplicates line 2 (same number); the first line is kept' },
      { line: 5, field: 'id', message: expect.stringMatching(/201 characters/) },
    ])
  })
})

// Issue #15: duplicate detection for files of any length — keys of a fixed size (a long id by its
// digest) in maps that never reach a JS Map's 2^24-entry limit (test/bench/duplicate-rows-memory.ts
// measures the memory).
describe('DuplicateRows on large files', () => {
  it('finds a repeat in any shard and keeps every shard within its size', () => {
    const seen = new DuplicateRows(4)
    const phone = (i: number) => `+4420794${String(60_000 + i)}`
    for (let i = 0; i < 50; i++)
      expect(seen.check({ line: i + 2, id: `k${i}`, phoneNumber: phone(i) })).toBeUndefined()
    expect(seen.check({ line: 99, id: 'k0', phoneNumber: phone(98) })).toEqual({
      field: 'id',
      message: 'duplicates line 2 (same id); the first line is kept',
    })
    expect(seen.check({ line: 100, id: 'new', phoneNumber: phone(49) })).toEqual({
      field: 'phoneNumber',
      message: 'duplicates line 51 (same number); the first line is kept',
    })
  })

  it('shards a map at its size: 10 keys in maps of 4 are 3 maps, each key found', () => {
    const map = new ShardedMap<number, number>(4)
    for (let i = 0; i < 10; i++) map.add(i, i * 10)
    expect(map.shardCount).toBe(3)
    expect(Array.from({ length: 10 }, (_, i) => map.get(i))).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    expect(map.get(10)).toBeUndefined()
  })

  it('long ids are told apart by their digest: one character differs at the end, or they are equal', () => {
    const seen = new DuplicateRows()
    const long = 'k'.repeat(199)
    expect(seen.check({ line: 2, id: `${long}a`, phoneNumber: '+442079460001' })).toBeUndefined()
    expect(seen.check({ line: 3, id: `${long}b`, phoneNumber: '+442079460002' })).toBeUndefined()
    // an id as long as a digest key is kept as itself
    expect(seen.check({ line: 4, id: 'x'.repeat(17), phoneNumber: '+442079460003' })).toBeUndefined()
    expect(seen.check({ line: 5, id: `${long}a`, phoneNumber: '+442079460004' })).toMatchObject({
      field: 'id',
      message: expect.stringMatching(/^duplicates line 2 /),
    })
  })
})
