/**
 * The cost of phone masking on the logger's hot path (issue #15), side by side in one run:
 * a typical worker log line (`dialing`: ids, a masked phone field, a message) written through
 * Powertools with no replacer (the anchor), through createLogger (dialctl's digit rule on every
 * string), and the digit rule against libphonenumber-js's `findPhoneNumbersInText` on the same
 * strings (the library alternative the issue asked us to weigh). µs per line, median of runs.
 */
import { Console } from 'node:console'
import { Writable } from 'node:stream'
import { Logger } from '@aws-lambda-powertools/logger'
import { findPhoneNumbersInText } from 'libphonenumber-js'
import { createLogger, setLogDestination } from '../../src/observability/logger.js'
import { maskPhonesIn } from '../../src/observability/mask.js'
import { fmt, QUICK, stats, type BenchSection } from './types.js'

const LINES = QUICK ? 2_000 : 20_000
const RUNS = QUICK ? 3 : 7

const fields = {
  callId: 'call-demo-c-12125550101-1705318245000-1',
  campaignId: 'campaign-123',
  contactId: 'crm-2125550101',
  phoneNumber: '+1*********01',
  attempt: 1,
  durationMs: 1234,
}
const strings = [
  'dialing (212) 555-0101 after 1200 ms, attempt 3 of 5',
  '2026-11-30T21:06:29.123Z',
  fields.callId,
  fields.contactId,
  'connect ECONNREFUSED 127.0.0.1:6379',
]

const devNull = () =>
  new Writable({
    write(_c, _e, done) {
      done()
    },
  })

/** µs per unit of `work` repeated `n` times, over RUNS runs. */
function time(n: number, work: () => void) {
  const runs: number[] = []
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) work()
    runs.push(Number(process.hrtime.bigint() - t0) / 1000 / n)
  }
  return stats(runs)
}

export async function run(): Promise<BenchSection> {
  const plain = new Logger({ serviceName: 'dialctl', persistentKeys: { component: 'bench' } })
  ;(plain as unknown as { console: Console }).console = new Console({ stdout: devNull(), stderr: devNull() })
  setLogDestination(devNull())
  const masked = createLogger('bench')
  try {
    const anchor = time(LINES, () => plain.info('dialing', fields))
    const withMask = time(LINES, () => masked.info('dialing', fields))
    const rule = time(LINES, () => strings.forEach((s) => maskPhonesIn(s)))
    const library = time(LINES / 10, () => strings.forEach((s) => findPhoneNumbersInText(s, 'US')))
    const rows = [
      ['log line, Powertools without masking (anchor)', fmt(anchor, 2)],
      ['log line, createLogger (digit rule on every string)', fmt(withMask, 2)],
      [`digit rule, ${strings.length} strings`, fmt(rule, 2)],
      [`libphonenumber-js findPhoneNumbersInText(…, 'US'), same ${strings.length} strings`, fmt(library, 2)],
    ]
    return {
      title: 'Phone masking on the log path',
      markdown: [
        '| what | µs (median, min, max) |',
        '| --- | --- |',
        ...rows.map(([a, b]) => `| ${a} | ${b} |`),
      ].join('\n'),
      json: { anchor, withMask, rule, library },
      summary: [
        `masking adds ${(withMask.median - anchor.median).toFixed(1)} µs to a ${anchor.median.toFixed(1)} µs log line; libphonenumber-js would take ${library.median.toFixed(0)} µs for the strings the rule does in ${rule.median.toFixed(1)} µs`,
      ],
    }
  } finally {
    setLogDestination(undefined)
  }
}
