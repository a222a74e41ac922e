import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The package root, found by walking up from this file. Non-TS assets (SQL migrations, Lua
 * scripts) stay under src/ and are read from there whether we run from source or from dist/.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('dialctl: cannot find package.json above ' + import.meta.url)
    dir = parent
  }
  return dir
}

export function assetPath(...parts: string[]): string {
  return join(packageRoot(), ...parts)
}
