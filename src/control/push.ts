import type { PushEntry, PushRegistration, PushResult } from './port.js'

/**
 * A stage's push (`ControlPlane.pushTasks`, local and AWS alike): registers the entries' contacts
 * (DataPort.registerPushedContacts: the size rule, repeats in the batch, conflicts with the
 * campaign's contacts), sends only the entries it did not refuse, and reports the refused ones as
 * `failed` with their code, suggestion and exit code — so every entry is in `sent` or `failed`
 * exactly once, and a refused task is neither sent nor silently dropped (issue #15).
 */
export async function pushRegistered(
  register: (entries: readonly PushEntry[]) => Promise<PushRegistration>,
  send: (entries: PushEntry[]) => Promise<PushResult>,
  entries: PushEntry[],
): Promise<PushResult> {
  const { refused } = await register(entries)
  const refusedIds = new Set(refused.map((r) => r.id))
  const accepted = entries.filter((e) => !refusedIds.has(e.id))
  const result = accepted.length ? await send(accepted) : { sent: [], failed: [] }
  return { sent: result.sent, failed: [...refused, ...result.failed] }
}
