import { afterAll, afterEach } from 'vitest'

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
 * Set DIALCTL_TEST_OUTPUT=show to see everything as it is written (when debugging a test).
 * Modelled on Powertools' packages/testing/src/setupEnv.ts, which silences loggers for its suite.
 */
const SHOW = process.env.DIALCTL_TEST_OUTPUT === 'show'

type Write = typeof process.stdout.write
const realStderrWrite: Write = process.stderr.write.bind(process.stderr)
let buffered: string[] = []

function sink(): Write {
  return function write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    buffered.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))
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

if (!SHOW) {
  process.stdout.write = sink()
  process.stderr.write = sink()

  afterEach((context) => {
    // Runs after the file's own afterEach hooks (hooks run in stack order), so their output and
    // their failures count too.
    if (context.task.result?.state === 'fail') replay(`"${context.task.fullName ?? context.task.name}"`)
    else buffered = []
  })

  // vitest passes the suite second, after a fixture context it requires to be destructured.
  // eslint-disable-next-line no-empty-pattern
  afterAll(({}, suite) => {
    // Output of a failed beforeAll/afterAll (no test to attach it to).
    if (suite.result?.state === 'fail' || (suite.result?.errors?.length ?? 0) > 0) replay(suite.name)
  })
}
