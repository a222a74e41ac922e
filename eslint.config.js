import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * Layers, lowest first: src/ (the core; src/cli holds only CLI helpers) → functions/, worker/,
 * local/ (composition roots) → commands/. A layer imports only from layers below it.
 */
const upward = (...groups) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: groups.map(([group, message]) => ({ group, message })),
    },
  ],
})
const ROOTS = ['**/commands/**', '**/functions/**', '**/worker/**', '**/local/**']

/** The folders whose files and functions are size-capped (see the rule below). */
const SIZED = ['src/**/*.ts', 'worker/**/*.ts', 'functions/**/*.ts', 'local/**/*.ts', 'commands/**/*.ts']

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.sst/**', 'sst-env.d.ts', '.dialctl/**', 'bench-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: upward(
      [
        ROOTS,
        'src/ is the core: it never imports commands/, functions/, worker/ or local/ (see CONTRIBUTING.md).',
      ],
      [
        ['**/cli/**'],
        'src/cli is the CLI layer: the core never imports it; put shared errors in src/errors.ts.',
      ],
    ),
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: upward([ROOTS, 'src/cli is imported by commands/, never the other way round.']),
  },
  {
    files: ['functions/**/*.ts', 'worker/**/*.ts'],
    rules: upward([
      ['**/commands/**', '**/src/cli/**', '**/local/**'],
      'Lambdas and the worker import the core only, never the CLI or the local stack.',
    ]),
  },
  {
    // Small units (#18, CONTRIBUTING.md "Size"): a file holds at most 400 lines of code (blank and
    // comment-only lines not counted); a function at most 80 lines, every line counted, nested
    // functions included. A longer one states its reason on the line above it:
    //   // eslint-disable-next-line max-lines-per-function -- <reason>
    // (rare: a table-like literal, a Lua/SQL string) — never instead of a split.
    files: SIZED,
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80 }],
    },
  },
  {
    files: ['local/**/*.ts'],
    rules: upward([['**/commands/**', '**/src/cli/**'], 'The local stack never imports the CLI.']),
  },
)
