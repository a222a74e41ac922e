import { z } from 'zod'
import { maskPhone, maskPhonesIn } from '../observability/mask.js'

// Lenient on purpose: a DLQ holds exactly the messages that failed, often because they are not
// valid DialTasks. We show whatever parts are there.
const LooseTask = z.object({
  campaignId: z.string().optional(),
  contactId: z.string().optional(),
  phoneNumber: z.string().optional(),
  attempts: z.number().int().optional(),
})

export interface BodySummary {
  campaignId?: string
  contactId?: string
  phone?: string
  attempts?: number
  bodySummary?: string
}

/** What an operator needs to recognise a queued message, with the phone number masked. */
export function summarizeQueueBody(body: string): BodySummary {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { bodySummary: maskPhonesIn(body.slice(0, 80)) }
  }
  const task = LooseTask.safeParse(parsed)
  if (!task.success || (!task.data.campaignId && !task.data.phoneNumber)) {
    return { bodySummary: maskPhonesIn(body.slice(0, 80)) }
  }
  const t = task.data
  return {
    ...(t.campaignId !== undefined ? { campaignId: t.campaignId } : {}),
    ...(t.contactId !== undefined ? { contactId: t.contactId } : {}),
    ...(t.phoneNumber !== undefined ? { phone: maskPhone(t.phoneNumber) } : {}),
    ...(t.attempts !== undefined ? { attempts: t.attempts } : {}),
  }
}
