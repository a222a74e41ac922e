import { describe, expect, it } from 'vitest'
import { contactRowProblem, contactRowsProblems, DialTask } from '../../src/contracts/index.js'

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
