import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests share one PostgreSQL and one Redis; each test isolates itself
    // with its own schema / key prefix, so files may run in parallel.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // @oclif/test captures a command's output from process.stdout; test/quiet-output.ts keeps a
    // passing run quiet and replays a failing test's output.
    disableConsoleIntercept: true,
    // A passing run prints its summary only (a dot per test); a failure prints in full.
    reporters: ['dot'],
    setupFiles: ['test/quiet-output.ts'],
    globalSetup: ['test/global-setup.ts'],
  },
})
