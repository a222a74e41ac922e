import { z } from 'zod'
import { MAX_SETTABLE_CPS } from './limit-store.js'

/**
 * The limit `cps set` and the control API accept: one rule for both (src/control/control-api.ts).
 * The store's own rule (src/pacing/limit-store.ts cpsLimitProblem) is the lower half of it.
 */
export const SettableCpsLimit = z
  .number({ error: 'must be a number of calls per second' })
  .int({ error: 'must be a whole number of calls per second' })
  .min(1, {
    error: 'must be at least 1 call per second (to stop dialing, pause the campaigns or stop the pipe)',
  })
  .max(MAX_SETTABLE_CPS, { error: `must be at most ${MAX_SETTABLE_CPS} calls per second` })
