/**
 * Writes oclif.manifest.json after the build. Without it oclif imports every command module at
 * start-up to learn their flags, which costs most of a second on each `dialctl` run; with it,
 * only the command being run is loaded. (`oclif manifest` does the same but needs the whole
 * oclif dev toolchain.) Run by `npm run build`.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Config, type Interfaces } from '@oclif/core'
import { packageRoot } from '../db/paths.js'

const root = packageRoot()
// oclif reads an existing manifest instead of the commands: without this, a command added since
// the last build would be missing from the new manifest ("command … not found").
rmSync(join(root, 'oclif.manifest.json'), { force: true })
const config = await Config.load(root)
const plugin = config.plugins.get(config.pjson.name) as { manifest?: Interfaces.Manifest } | undefined
if (!plugin?.manifest) throw new Error(`write-manifest: no manifest for ${config.pjson.name} under ${root}`)
writeFileSync(join(root, 'oclif.manifest.json'), JSON.stringify(plugin.manifest, null, 2) + '\n')
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
