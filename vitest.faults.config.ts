import { defineConfig } from 'vitest/config'

/**
 * `npm run test:faults`: the fault-injection suite (test/faults/*.fault.ts). Kept out of the
 * default `vitest run` (which takes test/**\/*.test.ts): its scenarios run the whole pipeline and
 * take minutes. Files run two at a time (a 2-core machine); each scenario has its own schema and
 * Redis prefix, and injects faults only through things it owns (proxies, child processes).
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    testTimeout: 150_000,
    hookTimeout: 60_000,
    // @oclif/test captures a command's output from process.stdout; test/quiet-output.ts keeps a
    // passing run quiet and replays a failing test's output.
    disableConsoleIntercept: true,
    // A passing run prints its summary only (a dot per test); a failure prints in full.
    reporters: ['dot'],
    setupFiles: ['test/quiet-output.ts'],
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts', 'test/faults/report-setup.ts'],
  },
})
