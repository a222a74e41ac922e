/**
 * The emitted code (`npm run build` → dist/), for benches that time what operators run: `bin/run.js`
 * and `dialctl dev` load dist/, not the TypeScript sources. Under tsx every named function and
 * class is wrapped by esbuild's keepNames (`__name(fn, "fn")` at each definition — for closures,
 * at each call that makes one), a cost the shipped code does not pay.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The repository's root directory. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

let built = false

/**
 * Runs `npm run build` once per process. A failed build leaves the last emitted code in place,
 * so the bench warns (naming `who`) and times what is there rather than failing the whole run.
 */
export function buildOnce(who: string): void {
  if (built) return
  built = true
  const out = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, encoding: 'utf8' })
  if (out.status !== 0) console.warn(`${who}: build reported errors; timing the emitted code in dist/`)
}

/**
 * Imports the emitted module of a source file, e.g. `importBuilt<typeof import('../../local/stack.js')>
 * ('local/stack.ts', 'pipeline.bench')` loads dist/local/stack.js, after {@link buildOnce}.
 * The type parameter is the source module's type: tsc emits the same exports.
 */
export async function importBuilt<T>(sourcePath: string, who: string): Promise<T> {
  buildOnce(who)
  const emitted = join(root, 'dist', sourcePath.replace(/\.ts$/, '.js'))
  return (await import(pathToFileURL(emitted).href)) as T
}
