/**
 * Lambda entry point: the stage's control API (src/control/control-api.ts). Runs in the VPC, next
 * to PostgreSQL and Redis, and serves dialctl's data calls — cps get/set/history/auto, campaigns,
 * contacts import (large files from the stage's upload bucket), campaign report, status and doctor —
 * with the same DataPlane the local stage uses. Invoked with
 * `lambda:InvokeFunction` only (no URL, no API Gateway): IAM decides who may, CloudTrail records who did.
 * The audit actor is the identity STS returns for the caller's presigned GetCallerIdentity
 * (src/control/caller-proof.ts), reached through the VPC's NAT (stacks/network.ts).
 */
import type { Context } from 'aws-lambda'
import { serveControl, type ControlResponse } from '../src/control/control-api.js'
import { verifyCallerProof } from '../src/control/caller-proof.js'
import { s3ContactImports } from '../src/control/contacts-import-object.js'
import { envCredentials, s3EndpointFromEnv } from '../src/control/s3-object.js'
import { lambdaDataPlane } from '../src/lambda/data.js'
import { readControlEnv } from '../src/lambda/env.js'
import { asError } from '../src/errors.js'
import { lambdaRuntime } from '../src/lambda/runtime.js'
import { SERVICE } from '../src/observability/metrics.js'

const rt = lambdaRuntime(SERVICE.control)
const env = readControlEnv(process.env, 'control')
const data = lambdaDataPlane(env)
// Large contacts files arrive in the stage's upload bucket (stacks/uploads.ts); read with the role's credentials.
const endpoint = s3EndpointFromEnv()
const bucket = env.UPLOAD_BUCKET
  ? { bucket: env.UPLOAD_BUCKET, region: env.AWS_REGION, ...(endpoint ? { endpoint } : {}) }
  : undefined

export const handler = rt.wrap(async (event: unknown, context?: Context): Promise<ControlResponse> => {
  // An import works until this invocation's time runs low, then answers with a continuation.
  const imports = s3ContactImports(
    data,
    bucket,
    { credentials: async () => envCredentials() },
    context ? () => context.getRemainingTimeInMillis() : undefined,
  )
  const response = await serveControl(
    { data, imports },
    event,
    (proof) => verifyCallerProof(proof, { region: env.AWS_REGION, stage: rt.stage }),
    (error) => rt.logger.error('control call failed', asError(error)),
  )
  const op = (event as { op?: unknown } | null)?.op
  rt.logger.info('control call', {
    op,
    caller: response.caller,
    ok: response.ok,
    ...(response.ok ? {} : { code: response.error.code }),
  })
  return response
})
