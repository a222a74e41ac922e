import { parse } from 'csv-parse'
import { parse as parseSync } from 'csv-parse/sync'
import type { ContactRow, ImportResult } from './port.js'
import type { ContactField } from '../contracts/index.js'
import { asError, errorMessage } from '../errors.js'
import { RECORD_DELIMITERS, type RecordDelimiter } from './import-position.js'
import {
  ContactRecords,
  CsvHeaderError,
  detectDelimiter,
  type ContactsCsvReading,
} from './contacts-csv-rule.js'

export interface ParsedCsv {
  rows: ContactRow[]
  invalid: ImportResult['invalid']
}

export {
  CsvHeaderError,
  detectDelimiter,
  ID_COLUMNS,
  PHONE_COLUMNS,
  TIMEZONE_COLUMNS,
  type ContactsCsvOptions,
  type ContactsCsvReading,
} from './contacts-csv-rule.js'

/**
 * csv-parse counts a CRLF inside a quoted field as two lines (but a record-ending CRLF as one);
 * this turns its count into the line a person sees in an editor: the record's first line.
 */
class LineCounter {
  private embeddedCrlf = 0
  /** `offset`: lines of the file before the part being parsed (a read resumed mid-file) */
  constructor(private readonly offset = 0) {}
  startLine(fields: string[], parserLines: number): number {
    let newlines = 0
    for (const f of fields) {
      for (const m of f.matchAll(/\r\n|\r|\n/g)) {
        newlines++
        if (m[0] === '\r\n') this.embeddedCrlf++
      }
    }
    return this.offset + parserLines - this.embeddedCrlf - newlines
  }
  errorLine(parserLines: number): number {
    return this.offset + parserLines - this.embeddedCrlf
  }
}

const PARSE_OPTIONS = {
  bom: true,
  // a row with the wrong number of fields is refused by us, by line, not by the parser for all
  relax_column_count: true,
  // a stray quote inside an unquoted cell (x"y) is kept as text, as spreadsheets read it
  relax_quotes: true,
  skip_records_with_error: true,
  info: true,
} as const

function skipped(error: Error & { lines?: number }, lines: LineCounter): ImportResult['invalid'][number] {
  return {
    line: lines.errorLine(error.lines ?? 0),
    field: 'row',
    message: `unreadable CSV: ${error.message.replace(/ at line \d+.*$/, '')}`,
  }
}

/**
 * Parses a whole contacts CSV held in memory (small files, tests). RFC 4180 via csv-parse: quoted
 * fields with delimiters, quotes and line breaks; BOM; CRLF. Rows that cannot be imported are
 * reported with their first line number (the header is line 1) and the field at fault; a missing
 * phone column is one error on line 1.
 */
export function parseContactsCsv(text: string, options: ContactsCsvReading = {}): ParsedCsv {
  const rows: ContactRow[] = []
  const invalid: ImportResult['invalid'] = []
  const lines = new LineCounter()
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? ''
  let records: { record: string[]; info: { lines: number } }[]
  try {
    records = parseSync(text, {
      ...PARSE_OPTIONS,
      delimiter: options.delimiter ?? detectDelimiter(firstLine),
      on_skip: (error: Error | undefined) => {
        if (error) invalid.push(skipped(error, lines))
      },
    }) as unknown as { record: string[]; info: { lines: number } }[]
  } catch (error) {
    invalid.push({ line: 1, field: 'file', message: `unreadable CSV: ${errorMessage(error)}` })
    return { rows, invalid }
  }
  const reader = new ContactRecords(options)
  const [header, ...data] = records
  try {
    reader.setHeader(header?.record ?? [])
  } catch (error) {
    if (!(error instanceof CsvHeaderError)) throw error
    invalid.push({ line: 1, field: error.field, message: error.message })
    return { rows, invalid }
  }
  for (const { record, info } of data) {
    const out = reader.read(record, lines.startLine(record, info.lines))
    if (out && 'row' in out) rows.push(out.row)
    else if (out) invalid.push(out.invalid)
  }
  invalid.sort((a, b) => a.line - b.line)
  return { rows, invalid }
}

/**
 * Where a contacts CSV is read from when not from its first byte: the record boundary a stopped
 * import returned (CsvChunk.end). The input then starts at `byteOffset`; the header, delimiters
 * and line number come from here, since that part of the file is not read again.
 */
export interface CsvStart {
  /** byte of the file the next record begins at */
  byteOffset: number
  /** that record's line in the file, as an editor counts (the header is line 1) */
  line: number
  /** the file's header record, as read */
  header: string[]
  delimiter: string
  /** the record delimiter csv-parse discovered in the file */
  recordDelimiter: RecordDelimiter
}

/** One chunk of a streamed import: rows to insert, refusals, and how far into the input we are. */
export interface CsvChunk {
  rows: ContactRow[]
  /** refusals of lines before `end.line`, in line order */
  invalid: ImportResult['invalid']
  /** bytes of the file consumed so far (for a progress bar; the parser may have read ahead) */
  bytes: number
  /** the boundary after this chunk's last record: a read that starts there misses nothing and repeats nothing */
  end: CsvStart
  /** the input has ended: nothing follows this chunk */
  final: boolean
  /** a refusal of a row of this file, naming the header column of `field` (as the reader's own) */
  refusal: (line: number, field: ContactField, message: string) => Invalid
}

type Invalid = ImportResult['invalid'][number]
type Parser = ReturnType<typeof parse>

/** The first line's delimiter (read ahead without losing what was read: `buffered`). */
async function peekDelimiter(
  source: AsyncGenerator<Buffer | string>,
  delimiter: string | undefined,
): Promise<{ delimiter: string; buffered: (Buffer | string)[] }> {
  const buffered: (Buffer | string)[] = []
  let head = ''
  // (next(), not for-await: breaking out of a for-await would close the source)
  while (!delimiter && !/\r|\n/.test(head) && head.length <= 64 * 1024) {
    const next = await source.next()
    if (next.done) break
    buffered.push(next.value)
    head += next.value.toString()
  }
  return {
    delimiter: delimiter ?? detectDelimiter(head.replace(/^\uFEFF/, '').split(/\r?\n|\r/, 1)[0] ?? ''),
    buffered,
  }
}

/** Writes one part; false when the parser is gone (its reader stopped early), so the pump ends. */
async function write(p: Parser, part: Buffer | string): Promise<boolean> {
  if (p.destroyed) return false
  if (!p.write(part))
    await new Promise<void>((resolve) => {
      const done = () => {
        p.off('drain', done)
        p.off('close', done)
        resolve()
      }
      p.once('drain', done)
      p.once('close', done)
    })
  return !p.destroyed
}

/** Feeds the parser; a failed read fails the parse; a stopped reader ends the read (closing the source). */
async function pump(
  p: Parser,
  buffered: (Buffer | string)[],
  source: AsyncIterable<Buffer | string>,
): Promise<void> {
  try {
    for (const part of buffered) if (!(await write(p, part))) return
    for await (const part of source) if (!(await write(p, part))) return
    if (!p.destroyed) p.end()
  } catch (error) {
    p.destroy(asError(error))
  }
}

/** `pending` split at `line`: the refusals before it (sorted), and those the parser reached ahead of it. */
function before(pending: Invalid[], line: number): [Invalid[], Invalid[]] {
  const now = pending.filter((i) => i.line < line).sort((a, b) => a.line - b.line)
  return [now, pending.filter((i) => i.line >= line)]
}

/**
 * Streams a contacts CSV of any size: never holds more than `chunkSize` rows (default 5000) and
 * what csv-parse buffers. Same rules as parseContactsCsv. Throws CsvHeaderError before yielding
 * anything when the header is unusable. With `start`, `input` begins at start.byteOffset of the
 * file (an S3 Range read) and lines and offsets are the file's. Stopping early (leaving the
 * for-await) ends the read of `input`.
 */
export async function* streamContactsCsv(
  input: AsyncIterable<Buffer | string>,
  options: ContactsCsvReading & { chunkSize?: number; start?: CsvStart } = {},
): AsyncGenerator<CsvChunk> {
  const { start } = options
  const chunkSize = options.chunkSize ?? 5000
  const base = start?.byteOffset ?? 0
  const lines = new LineCounter(start ? start.line - 1 : 0)
  const reader = new ContactRecords(options)
  const refusal = (line: number, field: ContactField, message: string) =>
    reader.refuse(line, field, message).invalid
  let pending: Invalid[] = []
  let consumed = 0
  const source = (async function* () {
    for await (const part of input) {
      consumed += typeof part === 'string' ? Buffer.byteLength(part) : part.length
      yield part
    }
  })()
  const { delimiter, buffered } = start
    ? { delimiter: start.delimiter, buffered: [] }
    : await peekDelimiter(source, options.delimiter)
  const p = parse({
    ...PARSE_OPTIONS,
    delimiter,
    ...(start ? { record_delimiter: start.recordDelimiter } : {}),
    on_skip: (error: Error | undefined) => {
      if (error) pending.push(skipped(error, lines))
    },
  })
  const pumping = pump(p, buffered, source)
  let header = start?.header
  if (header) reader.setHeader(header)
  let rows: ContactRow[] = []
  let end: CsvStart | undefined = start
  try {
    for await (const item of p as AsyncIterable<{
      record: string[]
      info: { lines: number; bytes: number }
    }>) {
      const line = lines.startLine(item.record, item.info.lines)
      // trimmed as the rule reads it: a continuation carries it (within MAX_HEADER_CELL)
      if (!header) reader.setHeader((header = item.record.map((h) => h.trim())))
      else {
        const out = reader.read(item.record, line)
        if (out && 'row' in out) rows.push(out.row)
        else if (out) pending.push(out.invalid)
      }
      end = {
        byteOffset: base + item.info.bytes,
        line: lines.errorLine(item.info.lines) + 1,
        header,
        delimiter,
        recordDelimiter: discovered(p),
      }
      if (rows.length >= chunkSize) {
        const [now, later] = before(pending, end.line)
        yield { rows, invalid: now, bytes: base + consumed, end, final: false, refusal }
        rows = []
        pending = later
      }
    }
    await pumping
  } finally {
    // a reader that stopped early: the pump sees the parser gone and ends the read
    p.destroy()
  }
  if (!header || !end) reader.setHeader([])
  const last = { ...end!, byteOffset: base + consumed }
  yield {
    rows,
    invalid: before(pending, Infinity)[0],
    bytes: base + consumed,
    end: last,
    final: true,
    refusal,
  }
}

/** The record delimiter csv-parse discovered (the first one outside quotes); LF before any is seen. */
function discovered(p: Parser): RecordDelimiter {
  const found = p.options.record_delimiter[0]?.toString()
  return RECORD_DELIMITERS.find((d) => d === found) ?? '\n'
}

// The database half (insert, push registration) lives beside: these imports stay valid.
export { insertContacts } from './contacts-insert.js'
export { registerPushedContacts } from './pushed-contacts.js'
