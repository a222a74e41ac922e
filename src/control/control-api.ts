import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { OperatorError } from '../errors.js'
import type { VerifiedCaller } from './caller-proof.js'
import { OPS, parseOpArgs, type ControlOp } from './control-ops.js'
import type { ContactImportPort } from './contacts-import-object.js'
import type { DataPort } from './port.js'

export { OPS, type ControlOp } from './control-ops.js'

/**
 * The control function's wire protocol (functions/control.ts ⇄ src/control/aws-control-client.ts):
 * one DataPort call per Lambda Invoke. The function runs in the stage's VPC and serves the call
 * with the same DataPlane the local stage uses; the CLI needs only `lambda:InvokeFunction` on it.
 *
 * Request  {op, args, proof}   — args: checked strictly per op (src/control/control-ops.ts);
 *                                proof: a presigned sts:GetCallerIdentity (src/control/caller-proof.ts);
 *                                the function executes it and records the ARN STS returns as the
 *                                actor of every audited change. Nothing the caller says about itself
 *                                is believed.
 * Response {ok: true, result} | {ok: false, error: {message, suggestion, exitCode, code}}
 * Errors the operator must see (OperatorError) cross the wire whole, so the CLI prints the same
 * message and exits with the same code as on the local stage.
 * Both ways a payload is at most 6 MB (Lambda quotas, "Invocation payload (request and response)",
 * synchronous): each op's arguments and results are bounded below it (ContactRows, RESULTS_PAGE_MAX).
 */

/** Proves the caller of one request: STS's answer to its proof (verifyCallerProof), or a refusal. */
export type Identify = (proof: unknown) => Promise<VerifiedCaller>

/** What the function serves: the data layer, and contacts files the CLI uploaded to the stage bucket. */
export interface ControlServices {
  data: DataPort
  imports: ContactImportPort
}

export const ControlRequest = z.object({
  op: z.enum(Object.keys(OPS) as [ControlOp, ...ControlOp[]]),
  args: z.array(z.unknown()).default([]),
  // checked by verifyCallerProof, which names what is wrong with it
  proof: z.unknown(),
})
export type ControlRequest = z.infer<typeof ControlRequest>

export const ControlError = z.object({
  message: z.string(),
  suggestion: z.string(),
  exitCode: z.number().int(),
  code: z.string(),
})
export const ControlResponse = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ControlError }),
])
export type ControlResponse = z.infer<typeof ControlResponse>

/** The pacing and campaign calls; `actor` is the verified caller, never an argument. */
async function dispatchCampaigns(services: ControlServices, op: ControlOp, raw: unknown[], actor: string) {
  const { data } = services
  switch (op) {
    case 'pacing.get':
      return data.pacing()
    case 'pacing.set': {
      const [limit, reason, , source, options] = parseOpArgs(op, raw)
      return data.setLimit(limit, reason, actor, source, options)
    }
    case 'pacing.resume':
      return data.resumeAuto(parseOpArgs(op, raw)[0], actor)
    case 'pacing.history':
      return data.limitHistory(parseOpArgs(op, raw)[0])
    case 'campaign.list':
      return data.listCampaigns()
    case 'campaign.show':
      return data.showCampaign(parseOpArgs(op, raw)[0])
    case 'campaign.media': {
      const [minutes, id] = parseOpArgs(op, raw)
      return data.campaignMedia(minutes, id)
    }
    case 'campaign.transition': {
      const [id, move, reason] = parseOpArgs(op, raw)
      return data.transitionCampaign(id, move, reason, actor)
    }
    case 'campaign.create': {
      const [{ campaign, isTest }] = parseOpArgs(op, raw)
      return data.createCampaign({ campaign, ...(isTest === undefined ? {} : { isTest }), actor })
    }
    case 'campaign.report':
      return data.campaignReport(parseOpArgs(op, raw)[0])
    case 'campaign.contactResults': {
      const [id, after, limit] = parseOpArgs(op, raw)
      return data.contactResultsPage(id, after, limit)
    }
    default:
      return dispatchContacts(services, op, raw)
  }
}

async function dispatchContacts({ data, imports }: ControlServices, op: ControlOp, raw: unknown[]) {
  switch (op) {
    case 'contacts.import': {
      const [campaignId, rows] = parseOpArgs(op, raw)
      return data.importContacts(campaignId, rows)
    }
    case 'contacts.importObject': {
      const [campaignId, key, csv, strict, resume] = parseOpArgs(op, raw)
      return imports.importContactsObject(campaignId, key, csv, strict, resume)
    }
    case 'contacts.registerPushed':
      return data.registerPushedContacts(parseOpArgs(op, raw)[0])
    case 'run.progress': {
      const [campaignId, prefix, since, sentAt] = parseOpArgs(op, raw)
      return data.runProgress(campaignId, prefix, new Date(since), new Map(sentAt))
    }
    case 'outcomes.answerRate':
      return data.answerRate(parseOpArgs(op, raw)[0])
    case 'outcomes.recent':
      return data.recentOutcomes(parseOpArgs(op, raw)[0])
    case 'stores.ping':
      return data.ping()
    default:
      throw new Error(`control op ${op} has no handler`)
  }
}

/**
 * Serves one request against `data`. Never throws: a bad request or a failed call becomes
 * `{ok: false, error}`; `onUnexpected` hears about errors that are not OperatorErrors (logged by
 * the Lambda; the operator gets the message and where to look).
 */
export async function serveControl(
  services: ControlServices,
  event: unknown,
  identify: Identify,
  onUnexpected: (error: unknown) => void = () => {},
): Promise<ControlResponse & { caller?: string }> {
  const request = ControlRequest.safeParse(event)
  if (!request.success)
    return {
      ok: false,
      error: {
        message: `control request invalid: ${describeZodError(request.error)}.`,
        suggestion: 'Invoke the control function through dialctl (`dialctl … --stage <stage>`), not by hand.',
        exitCode: 2,
        code: 'CONTROL_REQUEST',
      },
    }
  const { op, args, proof } = request.data
  let caller: string | undefined
  try {
    // Who acted, for the audit trails: the ARN STS returned (also what CloudTrail records for the Invoke).
    caller = (await identify(proof)).arn
    return { ok: true, result: await dispatchCampaigns(services, op, args, caller), caller }
  } catch (error) {
    if (error instanceof OperatorError)
      return {
        ok: false,
        ...(caller ? { caller } : {}),
        error: {
          message: error.message,
          suggestion: error.suggestion,
          exitCode: error.exitCode,
          code: error.code,
        },
      }
    onUnexpected(error)
    return {
      ok: false,
      error: {
        message: `control ${op} failed in the stage: ${error instanceof Error ? error.message : String(error)}.`,
        suggestion:
          "See the control function's log group (CloudWatch Logs) for the stack trace; `dialctl doctor` checks the stores.",
        exitCode: 1,
        code: 'CONTROL_FAILED',
      },
    }
  }
}
