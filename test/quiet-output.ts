import { afterAll, afterEach } from 'vitest'
import { describeLeaks, findPhoneLeaks } from './helpers/log-scan.js'

/**
 * Quiet tests (setupFiles of `npm test` and `npm run test:faults`): a passing run prints the
 * summary only, a failing test prints the output it produced.
 *
 * Everything this test process writes to stdout/stderr (Powertools' JSON log lines and EMF, a
 * stray console.log) goes to a buffer instead; after each test the buffer is dropped if the test
 * passed and replayed to stderr, under the test's name, if it failed. The log sink is the process
 * streams, not a log level, so nothing about what the code logs changes: a test that asserts on a
 * log line still spies on `process.stdout.write` (its spy sits on top of this sink and restores it),
 * and @oclif/test's runCommand still captures a command's output the same way.
 *
 * The log scan (issue #15): in the e2e and fault suites, every test's output is scanned for a
 * phone number in any form (test/helpers/log-scan.ts) before it is dropped; a leak fails the test
 * and prints the lines. DIALCTL_LOG_SCAN=off turns the scan off (only to see what else fails).
 *
 * Set DIALCTL_TEST_OUTPUT=show to see everything as it is written (when debugging a test).
 * Modelled on Powertools' packages/testing/src/setupEnv.ts, which silences loggers for its suite.
 */
const SHOW = process.env.DIALCTL_TEST_OUTPUT === 'show'
const SCANNED = /[\\/]test[\\/](e2e|faults)[\\/]/
const SCAN = process.env.DIALCTL_LOG_SCAN !== 'off'

type Write = typeof process.stdout.write
const realStderrWrite: Write = process.stderr.write.bind(process.stderr)
const realStdoutWrite: Write = process.stdout.write.bind(process.stdout)
let buffered: string[] = []

function sink(real: Write): Write {
  return function write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8')
    buffered.push(text)
    if (SHOW) real(text)
    const done = typeof encoding === 'function' ? encoding : callback
    if (typeof done === 'function') process.nextTick(done as () => void)
    return true
  } as Write
}

function replay(title: string): void {
  if (buffered.length === 0) return
  realStderrWrite(`\n──── output of ${title} ────\n${buffered.join('')}\n──── end of output ────\n`)
  buffered = []
}

/** The scan of one test's output: throws (failing the test) when a number leaked. */
function scan(title: string, file: string | undefined): void {
  if (!SCAN || !file || !SCANNED.test(file)) return
  const leaks = findPhoneLeaks(buffered.join(''))
  if (!leaks.length) return
  if (!SHOW) replay(title)
  buffered = []
  throw new Error(
    `phone numbers in the log output (issue #15 log scan):\n${describeLeaks(leaks.slice(0, 20))}`,
  )
}

// Under SHOW the sink echoes as it buffers, so the scan still sees everything.
process.stdout.write = sink(realStdoutWrite)
process.stderr.write = sink(realStderrWrite)

afterEach((context) => {
  // Runs after the file's own afterEach hooks (hooks run in stack order), so their output and
  // their failures count too.
  const title = `"${context.task.fullName ?? context.task.name}"`
  scan(title, context.task.file?.filepath)
  if (context.task.result?.state === 'fail' && !SHOW) replay(title)
  else buffered = []
})

// vitest passes the suite second, after a fixture context it requires to be destructured.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, suite) => {
  // Output of a beforeAll/afterAll (no test to attach it to): scanned, and shown if it failed.
  scan(suite.name, suite.file?.filepath)
  if (!SHOW && (suite.result?.state === 'fail' || (suite.result?.errors?.length ?? 0) > 0)) replay(suite.name)
  buffered = []
})
