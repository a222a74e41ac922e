import { z } from 'zod'
import { ParsedTextCache } from '../parsed-text-cache.js'
import { IvrFlow } from './ivr.js'
import { DialCommand } from './messages.js'

/**
 * DialCommand with its ivrFlow taken as it comes: parseDialCommand validates the flow through
 * the flow cache. `extend` keeps the key where DialCommand has it, so the output's keys come in
 * DialCommand's order.
 */
const DialCommandWithoutFlow = DialCommand.extend({ ivrFlow: z.unknown() })

/**
 * IVR flows validated lately, keyed by the flow's JSON text (JSON.stringify of the flow the body
 * carries): a campaign's flow is the same in every dial command of it, and IvrFlow's parse was about
 * half of the worker's per-dial validation (issue #17). The value is the validation of
 * JSON.parse(key) itself, so what was validated is exactly the key's text: a flow that differs in
 * any value is another key, validated afresh. The key is made by JSON.stringify rather than cut out
 * of the body by a scanner of ours (measured 4–5 µs more per dial, ~0.5 % of a task's CPU): JSON is
 * not ours to parse. A number JSON.parse read as ±Infinity (an overflowing literal, which our
 * dialer's JSON.stringify never writes) becomes null in the key; everywhere else the round trip is
 * exact. An invalid flow is kept as `null` (the command is then parsed whole for its error).
 * 100 flows and 4 M characters at most (a flow is at most WORKER_MAX_BODY_BYTES); frozen by the
 * cache, as every command of the campaign shares it.
 */
const flows = new ParsedTextCache<{ flow: IvrFlow | null }>(100, 4_000_000)

function validatedFlow(text: string): { flow: IvrFlow | null } {
  const parsed = IvrFlow.safeParse(JSON.parse(text))
  return { flow: parsed.success ? parsed.data : null }
}

/**
 * A POST /dial body read as a DialCommand: `DialCommand.safeParse(JSON.parse(body))` — the same
 * success and error, and the same data but for the flow, which is the validation of its JSON round
 * trip (±Infinity → null, −0 → 0: only in free-form action parameters, which are stored through
 * JSON.stringify anyway) —, with the ivrFlow validated once per distinct flow (its JSON text).
 * The rest of the command is validated on every call: it is untrusted, and differs per task. A
 * command's ivrFlow is the cached value, deep-frozen: read it, never change it.
 *
 * Measured in the local pipeline (median per command, interleaved): 26–34 µs for the whole
 * schema's parse, 15–18 µs with the flow validated once per text (this).
 * @throws SyntaxError when `body` is not JSON; RangeError for a flow nested deeper than
 * JSON.stringify goes (thousands of levels; readJson answers 400 for either)
 */
export function parseDialCommand(body: string): z.ZodSafeParseResult<DialCommand> {
  const json: unknown = JSON.parse(body)
  const rest = DialCommandWithoutFlow.safeParse(json)
  if (rest.success) {
    // rest's success means json is an object; undefined (no flow) stringifies to undefined
    const text = JSON.stringify((json as { ivrFlow?: unknown }).ivrFlow) as string | undefined
    const flow = text === undefined ? null : flows.get(text, validatedFlow).flow
    if (flow) {
      const command = rest.data as DialCommand
      command.ivrFlow = flow
      return { success: true, data: command }
    }
  }
  // Invalid somewhere: the whole schema's parse, so the error lists every issue as DialCommand's does.
  return DialCommand.safeParse(json)
}
