/**
 * Lambda entry point: the stage's control API (src/control/control-api.ts). Runs in the VPC, next
 * to PostgreSQL and Redis, and serves dialctl's data calls — cps get/set/history/auto, campaigns,
 * contacts import, status and doctor — with the same DataPlane the local stage uses. Invoked with
 * `lambda:InvokeFunction` only (no URL, no API Gateway): IAM decides who may, CloudTrail records who did.
 */
import type { Context } from 'aws-lambda'
import { serveControl, type ControlResponse } from '../src/control/control-api.js'
import { lambdaDataPlane } from '../src/lambda/data.js'
import { readControlEnv } from '../src/lambda/env.js'
import { asError } from '../src/errors.js'
import { lambdaRuntime } from '../src/lambda/runtime.js'
import { SERVICE } from '../src/observability/metrics.js'

const rt = lambdaRuntime(SERVICE.control)
const data = lambdaDataPlane(readControlEnv(process.env, 'control'))

export const handler = rt.wrap(async (event: unknown, _context?: Context): Promise<ControlResponse> => {
  const response = await serveControl(data, event, (error) =>
    rt.logger.error('control call failed', asError(error)),
  )
  const op = (event as { op?: unknown } | null)?.op
  const caller = (event as { caller?: { arn?: unknown } } | null)?.caller?.arn
  rt.logger.info('control call', { op, caller, ok: response.ok })
  return response
})
