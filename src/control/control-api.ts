import { z } from 'zod'
import { describeZodError } from '../contracts/errors.js'
import { OperatorError } from '../errors.js'
import type { VerifiedCaller } from './caller-proof.js'
import type { CampaignMove, DataPort } from './port.js'

/**
 * The control function's wire protocol (functions/control.ts ⇄ src/control/aws-control-client.ts):
 * one DataPort call per Lambda Invoke. The function runs in the stage's VPC and serves the call
 * with the same DataPlane the local stage uses; the CLI needs only `lambda:InvokeFunction` on it.
 *
 * Request  {op, args, proof}   — proof: a presigned sts:GetCallerIdentity (src/control/caller-proof.ts);
 *                                the function executes it and records the ARN STS returns as the
 *                                actor of every audited change. Nothing the caller says about itself
 *                                is believed.
 * Response {ok: true, result} | {ok: false, error: {message, suggestion, exitCode, code}}
 * Errors the operator must see (OperatorError) cross the wire whole, so the CLI prints the same
 * message and exits with the same code as on the local stage.
 */

/** Proves the caller of one request: STS's answer to its proof (verifyCallerProof), or a refusal. */
export type Identify = (proof: unknown) => Promise<VerifiedCaller>

const text = z.string()
const Move = z.enum(['start', 'pause', 'resume', 'complete', 'cancel'] satisfies CampaignMove[])
const int = z.number().int()

/** Each op's positional arguments (JSON: Dates as ISO strings, Maps as entry lists). */
/** SetLimitOptions (src/pacing/limit-store.ts) on the wire: the hold of `cps set`, the pacer's respect of it. */
const SetLimitOptionsSchema = z.object({
  hold: z.object({ untilMs: z.number().int().nullable() }).optional(),
  respectHold: z.object({ safety: z.boolean() }).optional(),
})

export const OPS = {
  'pacing.get': z.tuple([]),
  'pacing.set': z.tuple([int.positive(), text, text, text.optional(), SetLimitOptionsSchema.optional()]),
  'pacing.resume': z.tuple([text]),
  'pacing.history': z.tuple([int.positive()]),
  'campaign.list': z.tuple([]),
  'campaign.show': z.tuple([text]),
  'campaign.media': z.tuple([int.positive(), text.optional()]),
  'campaign.transition': z.tuple([text, Move, text.nullable(), text]),
  'campaign.create': z.tuple([
    z.object({ campaign: z.unknown(), isTest: z.boolean().optional(), actor: text }),
  ]),
  'contacts.import': z.tuple([
    text,
    z.array(
      z.object({
        line: int,
        id: text,
        phoneNumber: text,
        metadata: z.record(z.string(), z.unknown()),
        timezone: text.optional(),
      }),
    ),
  ]),
  // The task is validated again where it is used (DialTask at the dial gate); here it is carried.
  'contacts.registerPushed': z.tuple([
    z.array(z.object({ id: text, task: z.record(z.string(), z.unknown()), timezone: text.optional() })),
  ]),
  'run.progress': z.tuple([text, text, z.iso.datetime(), z.array(z.tuple([text, z.number()]))]),
  'outcomes.answerRate': z.tuple([int.positive()]),
  'outcomes.recent': z.tuple([int.positive()]),
  'stores.ping': z.tuple([]),
} as const
export type ControlOp = keyof typeof OPS

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

async function dispatch(data: DataPort, op: ControlOp, raw: unknown[], actor: string): Promise<unknown> {
  const parsed = OPS[op].safeParse(raw)
  if (!parsed.success)
    throw new OperatorError(
      `control ${op}: invalid arguments (${describeZodError(parsed.error)}).`,
      'Use the same dialctl version as the deployed stage (npm ls dialctl; redeploy or upgrade).',
      2,
      'CONTROL_ARGS',
    )
  const a = parsed.data as unknown[]
  switch (op) {
    case 'pacing.get':
      return data.pacing()
    case 'pacing.set':
      return data.setLimit(
        a[0] as number,
        a[1] as string,
        actor,
        a[3] as string | undefined,
        a[4] as z.infer<typeof SetLimitOptionsSchema> | undefined,
      )
    case 'pacing.resume':
      return data.resumeAuto(a[0] as string, actor)
    case 'pacing.history':
      return data.limitHistory(a[0] as number)
    case 'campaign.list':
      return data.listCampaigns()
    case 'campaign.show':
      return data.showCampaign(a[0] as string)
    case 'campaign.media':
      return data.campaignMedia(a[0] as number, a[1] as string | undefined)
    case 'campaign.transition':
      return data.transitionCampaign(a[0] as string, a[1] as CampaignMove, a[2] as string | null, actor)
    case 'campaign.create': {
      const input = a[0] as { campaign: unknown; isTest?: boolean }
      return data.createCampaign({ ...input, actor })
    }
    case 'contacts.import':
      return data.importContacts(a[0] as string, a[1] as Parameters<DataPort['importContacts']>[1])
    case 'contacts.registerPushed':
      return data.registerPushedContacts(a[0] as Parameters<DataPort['registerPushedContacts']>[0])
    case 'run.progress':
      return data.runProgress(
        a[0] as string,
        a[1] as string,
        new Date(a[2] as string),
        new Map(a[3] as [string, number][]),
      )
    case 'outcomes.answerRate':
      return data.answerRate(a[0] as number)
    case 'outcomes.recent':
      return data.recentOutcomes(a[0] as number)
    case 'stores.ping':
      return data.ping()
  }
}

/**
 * Serves one request against `data`. Never throws: a bad request or a failed call becomes
 * `{ok: false, error}`; `onUnexpected` hears about errors that are not OperatorErrors (logged by
 * the Lambda; the operator gets the message and where to look).
 */
export async function serveControl(
  data: DataPort,
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
    return { ok: true, result: await dispatch(data, op, args, caller), caller }
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
