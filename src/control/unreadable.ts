import type { Observations } from './doctor.js'
import { errorText as text } from './doctor-checks.js'

/** One store, peer or read whose state is unknown: unhealthy, never assumed fine (docs/health.md). */
export interface Unreadable {
  /** short id for doctor's check (`read-dlq`, `reach-worker`, …) */
  id: string
  /** what cannot be read or reached, e.g. "DLQ", "worker GET /health" */
  what: string
  /** what happened, masked */
  detail: string
  /** the next safe command */
  fix: string
}

/**
 * Every observation `status` and `doctor` could not make, and every store or peer `ping` found
 * down: "stores down / worker GET /health fails" is red (docs/health.md), and a verdict built on a
 * read that failed is unknown, not green. The pipe and pacing reads are judged by their own checks.
 */
export function unreadableObservations(o: Observations): Unreadable[] {
  const out: Unreadable[] = []
  if (o.reach instanceof Error)
    out.push({ id: 'reach', what: 'PostgreSQL and Redis', detail: text(o.reach), fix: 'dialctl doctor' })
  else {
    if (!o.reach.postgres)
      out.push({
        id: 'reach-postgres',
        what: 'PostgreSQL',
        detail: 'does not answer',
        fix: 'start PostgreSQL or fix DATABASE_URL; then dialctl doctor',
      })
    if (!o.reach.redis)
      out.push({
        id: 'reach-redis',
        what: 'Redis',
        detail: 'does not answer',
        fix: 'start Redis or fix REDIS_URL; then dialctl doctor',
      })
    if (o.reach.worker === false)
      out.push({
        id: 'reach-worker',
        what: 'worker GET /health',
        detail: 'failed (DIALCTL_WORKER_URL)',
        fix: 'dialctl dev',
      })
  }
  const reads: [string, string, unknown, string][] = [
    ['read-dlq', 'DLQ', o.dlq, 'dialctl dlq list'],
    ['read-campaigns', 'campaigns', o.campaigns, 'dialctl campaign list'],
    ['read-outcomes', 'outcomes', o.outcomes, 'dialctl doctor'],
    ['read-alarms', 'alarms', o.alarms, 'dialctl doctor'],
  ]
  for (const [id, what, value, fix] of reads)
    if (value instanceof Error) out.push({ id, what, detail: `unreadable: ${text(value)}`, fix })
  return out
}
