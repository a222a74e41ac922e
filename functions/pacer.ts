/**
 * Lambda entry point, every minute (stacks/functions.ts `PacerSchedule`): one step of the
 * adaptive controller — the same `autoStep` (src/control/auto.ts → src/pacing/controller.ts)
 * that `dialctl cps auto` runs. Inputs: the worker fleet's CPU (CloudWatch, AWS/ECS) and the
 * answer rate (PostgreSQL); the new limit goes to Redis with an audit entry (actor "pacer").
 * Clients are created on the first invocation and reused while the container is warm.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import type { Context } from 'aws-lambda'
import { autoStep, initialState, type AutoStep } from '../src/control/auto.js'
import { awsControllerInputs } from '../src/control/aws-cloudwatch.js'
import type { ControllerPort } from '../src/control/port.js'
import { lambdaDataPlane } from '../src/lambda/data.js'
import { pacingPolicyFromEnv, readControlEnv } from '../src/lambda/env.js'
import { lambdaRuntime } from '../src/lambda/runtime.js'
import { SERVICE } from '../src/observability/metrics.js'
import type { PacingPolicy } from '../src/pacing/policy.js'

const rt = lambdaRuntime(SERVICE.pacer)
let deps: { policy: PacingPolicy; controller: ControllerPort } | undefined

function controller(): { policy: PacingPolicy; controller: ControllerPort } {
  if (deps) return deps
  const env = readControlEnv(process.env, 'pacer')
  const data = lambdaDataPlane(env)
  const cloudwatch = new CloudWatchClient({})
  const worker = {
    ...(env.WORKER_CLUSTER_NAME ? { workerClusterName: env.WORKER_CLUSTER_NAME } : {}),
    ...(env.WORKER_SERVICE_NAME ? { workerServiceName: env.WORKER_SERVICE_NAME } : {}),
  }
  deps = {
    policy: pacingPolicyFromEnv(env),
    controller: {
      controllerInputs: () => awsControllerInputs(cloudwatch, worker, data, new Date()),
      pacing: () => data.pacing(),
      // the options carry the hold rule (respectHold): the store applies it in the same
      // transaction as the write, and records a safety cut through a hold as one
      setLimit: (limit, reason, actor, source, options) =>
        data.setLimit(limit, reason, actor, source, options),
      limitHistory: (limit) => data.limitHistory(limit),
    },
  }
  return deps
}

export const handler = rt.wrap(async (_event?: unknown, _context?: Context): Promise<AutoStep> => {
  const { policy, controller: c } = controller()
  const { step } = await autoStep(c, policy, await initialState(c), { dryRun: false, actor: 'pacer' })
  rt.logger.info('pacer step', { ...step })
  return step
})
