/**
 * The dev banner's line when `--max-cps` (MAX_CPS) is not the limit in force: MAX_CPS is only the
 * default for a stage whose store holds no limit, and an operator's `cps set` earlier is kept in
 * PostgreSQL/Redis across restarts (docs/pacing.md). Silently dialing at 20 after `--max-cps 5`
 * surprised a new operator (issue #16); undefined when the flag is the limit, or was not given.
 */
export function maxCpsNote(
  flag: number | undefined,
  live: { cpsLimit: number; limitSource: string },
): string | undefined {
  if (flag === undefined || live.limitSource === 'default' || live.cpsLimit === flag) return undefined
  return `  CPS limit   ${live.cpsLimit}, set by an operator earlier (dialctl cps history); --max-cps ${flag} applies only when no limit is set: dialctl cps set ${flag} --reason … to use it now`
}
