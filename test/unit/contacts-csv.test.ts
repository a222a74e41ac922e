import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  CsvHeaderError,
  detectDelimiter,
  parseContactsCsv,
  streamContactsCsv,
  type ContactsCsvOptions,
} from '../../src/control/contacts-import.js'

interface Case {
  name: string
  csv: string
  options?: ContactsCsvOptions
  rows: {
    line: number
    id: string
    phoneNumber: string
    timezone?: string
    metadata?: Record<string, unknown>
  }[]
  invalid: { line: number; field: string; message?: RegExp }[]
}

// Issue #15's table: what spreadsheets and CRMs write, and what tired humans produce.
const cases: Case[] = [
  {
    name: 'multi-line quoted field (a cell with a newline) stays one contact, value whole',
    csv: 'id,phone,note\nk1,+442079460001,"first line\nsecond line"\nk2,+442079460002,plain\n',
    rows: [
      { line: 2, id: 'k1', phoneNumber: '+442079460001', metadata: { note: 'first line\nsecond line' } },
      { line: 4, id: 'k2', phoneNumber: '+442079460002', metadata: { note: 'plain' } },
    ],
    invalid: [],
  },
  {
    name: 'UTF-8 BOM before the header',
    csv: '\uFEFFphone_number,name\n+442079460001,Ann\n',
    rows: [{ line: 2, id: 'c-442079460001', phoneNumber: '+442079460001', metadata: { name: 'Ann' } }],
    invalid: [],
  },
  {
    name: 'CRLF line ends, with a CRLF inside a quoted cell (line numbers as an editor shows them)',
    csv: 'id,phone,note\r\nk1,+442079460001,"a\r\nb"\r\n\r\nk2,bad,x\r\nk3,+442079460003,y\r\n',
    rows: [
      { line: 2, id: 'k1', phoneNumber: '+442079460001', metadata: { note: 'a\r\nb' } },
      { line: 6, id: 'k3', phoneNumber: '+442079460003', metadata: { note: 'y' } },
    ],
    invalid: [{ line: 5, field: 'phone', message: /not a valid E\.164/ }],
  },
  {
    name: '`;` delimiter (European spreadsheets), detected from the header',
    csv: 'id;phone;city\nk1;+442079460001;Paris, France\n',
    rows: [{ line: 2, id: 'k1', phoneNumber: '+442079460001', metadata: { city: 'Paris, France' } }],
    invalid: [],
  },
  {
    name: '`;` file read with an explicit --delimiter ,: no phone column is an error on line 1',
    csv: 'id;phone\nk1;+442079460001\n',
    options: { delimiter: ',' },
    rows: [],
    invalid: [{ line: 1, field: 'header', message: /no phone column/ }],
  },
  {
    name: 'a NUL byte in one cell refuses that row only, naming the field',
    csv: 'id,phone,name\nk1,+442079460001,A\u0000B\nk2,+442079460002,Ok\n',
    rows: [{ line: 3, id: 'k2', phoneNumber: '+442079460002', metadata: { name: 'Ok' } }],
    invalid: [{ line: 2, field: 'name', message: /control character/ }],
  },
  {
    name: 'a header of more than 1000 columns (a wrong delimiter, a data line): refused on line 1',
    csv: ['phone', ...Array.from({ length: 1000 }, (_, i) => `c${i}`)].join(',') + '\n+442079460001\n',
    rows: [],
    invalid: [{ line: 1, field: 'header', message: /the header has 1001 columns \(at most 1000\)/ }],
  },
  {
    name: 'a header name of more than 1000 characters: refused on line 1, naming the column',
    csv: `phone,${'n'.repeat(1001)}\n+442079460001,x\n`,
    rows: [],
    invalid: [{ line: 1, field: 'header', message: /column 2 of the header is 1001 characters long/ }],
  },
  {
    name: 'missing phone column',
    csv: 'id,name\nk1,Ann\n',
    rows: [],
    invalid: [{ line: 1, field: 'header', message: /no phone column.*--phone-column/ }],
  },
  {
    name: 'a named phone column (--phone-column), case-insensitive',
    csv: 'Mobile,Name\n+442079460001,Ann\n',
    options: { phoneColumn: 'mobile' },
    rows: [{ line: 2, id: 'c-442079460001', phoneNumber: '+442079460001', metadata: { Name: 'Ann' } }],
    invalid: [],
  },
  {
    name: 'duplicate rows: the first line wins, each later one is refused naming the line it duplicates',
    csv: 'id,phone\nk1,+442079460001\nk1,+442079460001\nk2,+442079460001\nk1,+442079460003\nk4,+442079460004\n',
    rows: [
      { line: 2, id: 'k1', phoneNumber: '+442079460001' },
      { line: 6, id: 'k4', phoneNumber: '+442079460004' },
    ],
    invalid: [
      { line: 3, field: 'id', message: /^duplicates line 2 \(same id\); the first line is kept$/ },
      { line: 4, field: 'phone', message: /^duplicates line 2 \(same number\)/ },
      { line: 5, field: 'id', message: /^duplicates line 2 \(same id\)/ },
    ],
  },
  {
    name: 'duplicate numbers without an id column (the id is made from the number)',
    csv: 'phone_number,name\n+442079460001,A\n+442079460001,B\n',
    rows: [{ line: 2, id: 'c-442079460001', phoneNumber: '+442079460001', metadata: { name: 'A' } }],
    invalid: [{ line: 3, field: 'id', message: /duplicates line 2/ }],
  },
  {
    name: 'an id over 200 characters (SafeId) is refused at import, by line and field',
    csv: `contact_id,phone\n${'k'.repeat(201)},+442079460001\n${'k'.repeat(200)},+442079460002\n`,
    rows: [{ line: 3, id: 'k'.repeat(200), phoneNumber: '+442079460002' }],
    invalid: [{ line: 2, field: 'contact_id', message: /is 201 characters; an id has at most 200/ }],
  },
  {
    name: 'national-format numbers are refused (no campaign has a default region: import takes E.164 only), masked',
    csv: 'id,phone\nk1,212-555-0101\nk2,(212) 555-0102\nk3,2125550103\nk4,+12125550104\n',
    rows: [{ line: 5, id: 'k4', phoneNumber: '+12125550104' }],
    invalid: [
      { line: 2, field: 'phone', message: /^"\*\*\*-\*\*\*-\*\*01" is not a valid E\.164 number/ },
      { line: 3, field: 'phone', message: /^"\(\*\*\*\) \*\*\*-\*\*02" is not a valid E\.164/ },
      { line: 4, field: 'phone', message: /^"\*\*\*\*\*\*\*\*03" is not a valid E\.164/ },
    ],
  },
  {
    name: 'an id with a line break (a quoted multi-line cell) is refused by field',
    csv: 'id,phone\n"k\n1",+442079460001\n',
    rows: [],
    invalid: [{ line: 2, field: 'id', message: /control characters/ }],
  },
  {
    name: 'a row whose task would exceed what the worker accepts is refused with the size and the limit',
    csv: `id,phone,notes\nk1,+442079460001,${'x'.repeat(70_000)}\n`,
    rows: [],
    invalid: [{ line: 2, field: 'row', message: /the dial task would be \d+ bytes; the limit is 65536/ }],
  },
  {
    name: 'formula-like cells are stored verbatim',
    csv: 'id,phone,a,b,c\nk1,+442079460001,"=HYPERLINK(""http://x"",""y"")",+SUM(1),@cmd\n',
    rows: [
      {
        line: 2,
        id: 'k1',
        phoneNumber: '+442079460001',
        metadata: { a: '=HYPERLINK("http://x","y")', b: '+SUM(1)', c: '@cmd' },
      },
    ],
    invalid: [],
  },
  {
    name: 'timezone column: an explicit IANA zone per contact; a bad one refused by field',
    csv: 'id,phone,timezone\nk1,+442079460001,America/New_York\nk2,+442079460002,\nk3,+442079460003,Mars/Olympus\n',
    rows: [
      { line: 2, id: 'k1', phoneNumber: '+442079460001', timezone: 'America/New_York', metadata: {} },
      { line: 3, id: 'k2', phoneNumber: '+442079460002', metadata: {} },
    ],
    invalid: [{ line: 4, field: 'timezone', message: /IANA/ }],
  },
  {
    name: 'a quote never closed is reported on its line, the rows before it kept',
    csv: 'id,phone,note\nk1,+442079460001,ok\nk2,+442079460002,"open\n',
    rows: [{ line: 2, id: 'k1', phoneNumber: '+442079460001' }],
    invalid: [{ line: 3, field: 'row', message: /Quote Not Closed/i }],
  },
  {
    name: 'wrong number of fields is refused by line',
    csv: 'id,phone\nk1,+442079460001,extra\n',
    rows: [],
    invalid: [{ line: 2, field: 'row', message: /3 fields/ }],
  },
]

async function streamed(csv: string, options: ContactsCsvOptions = {}) {
  const rows = []
  const invalid = []
  // one byte at a time: the peek, the BOM and CRLF may straddle chunks
  for await (const chunk of streamContactsCsv(Readable.from(Buffer.from(csv)), {
    ...options,
    chunkSize: 2,
  })) {
    rows.push(...chunk.rows)
    invalid.push(...chunk.invalid)
  }
  return { rows, invalid }
}

describe('contacts CSV (csv-parse)', () => {
  it.each(cases)('$name', async ({ csv, options, rows, invalid }) => {
    const parsed = parseContactsCsv(csv, options)
    expect(parsed.rows).toEqual(rows.map((r) => expect.objectContaining(r)))
    expect(parsed.invalid).toEqual(
      invalid.map((i) => ({
        line: i.line,
        field: i.field,
        message: i.message ? expect.stringMatching(i.message) : expect.any(String),
      })),
    )
    // the streaming reader applies the same rules
    if (invalid.some((i) => i.field === 'header')) {
      await expect(streamed(csv, options)).rejects.toBeInstanceOf(CsvHeaderError)
    } else {
      const s = await streamed(csv, options)
      expect(s.rows).toEqual(parsed.rows)
      expect(s.invalid.sort((a, b) => a.line - b.line)).toEqual(parsed.invalid)
    }
  })

  it('detects , ; TAB | from the header, ignoring quoted ones', () => {
    expect(detectDelimiter('id,phone')).toBe(',')
    expect(detectDelimiter('"a,b";phone')).toBe(';')
    expect(detectDelimiter('id\tphone')).toBe('\t')
    expect(detectDelimiter('id|phone')).toBe('|')
  })

  it('streams a 1M-row file: reads only as far as the chunk being imported (never the whole file)', async () => {
    const total = 1_000_000
    let produced = 0
    async function* generate() {
      yield 'id,phone,note\n'
      for (let i = 0; i < total; i += 1000) {
        let block = ''
        for (let j = i; j < i + 1000; j++)
          block += `k${j},+4420794${String(j % 100000).padStart(5, '0')},"n ${j}"\n`
        produced += 1000
        yield block
      }
    }
    let chunks = 0
    let rows = 0
    for await (const chunk of streamContactsCsv(generate(), { chunkSize: 2000 })) {
      chunks++
      rows += chunk.rows.length
      expect(chunk.rows.length).toBe(2000)
      // backpressure: while a chunk is being imported the source is not read ahead of it
      // (csv-parse's and the stream's buffers hold a few thousand rows, not the file)
      expect(produced - rows).toBeLessThan(20_000)
      if (chunks === 5) break
    }
    expect(rows).toBe(10_000)
    expect(produced).toBeLessThan(30_000)
  })
})
