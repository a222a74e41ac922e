import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { errorMessage, OperatorError } from '../errors.js'
import { describeZodError } from '../contracts/errors.js'

/**
 * What a deployed stage exports (stacks/index.ts `outputs`), as `sst deploy` writes it to
 * `.sst/outputs.json`. dialctl finds a stage's pipe, queues, functions and stores from here.
 */
export const StageOutputs = z.object({
  stage: z.string().min(1),
  pipeName: z.string().min(1),
  queueUrl: z.string().url(),
  queueArn: z.string().startsWith('arn:'),
  dlqUrl: z.string().url(),
  dlqArn: z.string().startsWith('arn:'),
  dialerFunctionName: z.string().min(1),
  enrichFunctionName: z.string().min(1),
  pacerFunctionName: z.string().min(1),
  stateMachineArn: z.string().startsWith('arn:'),
  redisHost: z.string().min(1),
  redisPort: z.coerce.number().int().positive(),
  postgresHost: z.string().min(1),
  postgresPort: z.coerce.number().int().positive(),
  postgresDatabase: z.string().min(1),
  workerUrl: z.string().url(),
  metricNamespace: z.string().min(1),
  workerClusterName: z.string().min(1).optional(),
  workerServiceName: z.string().min(1).optional(),
  alarmPrefix: z.string().min(1).optional(),
  alertsTopicArn: z.string().optional(),
  dashboardName: z.string().optional(),
  vpcId: z.string().optional(),
})
export type StageOutputs = z.infer<typeof StageOutputs>

export interface LoadOptions {
  profile?: string
  region?: string
  /** where `.sst/` lives; default: the current directory */
  projectDir?: string
  env?: NodeJS.ProcessEnv
}

/** DIALCTL_OUTPUTS_FILE if set, else `<project>/.sst/outputs.json`. */
export function outputsFilePath(options: LoadOptions = {}): string {
  const env = options.env ?? process.env
  if (env.DIALCTL_OUTPUTS_FILE) return path.resolve(env.DIALCTL_OUTPUTS_FILE)
  return path.resolve(options.projectDir ?? process.cwd(), '.sst', 'outputs.json')
}

const deployHint = (stage: string) =>
  `Deploy it from the dialctl checkout (npx sst deploy --stage ${stage}), or point DIALCTL_OUTPUTS_FILE at that stage's outputs.json.`

/**
 * Reads and checks the outputs of `stage`. Every failure is an OperatorError that names the
 * file, the missing or wrong output, and the fix.
 */
export async function loadStageOutputs(stage: string, options: LoadOptions = {}): Promise<StageOutputs> {
  const file = outputsFilePath(options)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new OperatorError(
      `No outputs for stage "${stage}": ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`,
      deployHint(stage),
      1,
      'STAGE_OUTPUTS',
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new OperatorError(
      `${file} is not valid JSON (${errorMessage(error)}).`,
      deployHint(stage),
      1,
      'STAGE_OUTPUTS',
    )
  }
  const parsed = StageOutputs.safeParse(json)
  if (!parsed.success) {
    const missing = parsed.error.issues
      .filter((i) => i.code === 'invalid_type' && /received undefined/.test(i.message))
      .map((i) => i.path.join('.'))
    throw new OperatorError(
      missing.length
        ? `The outputs in ${file} lack ${missing.join(', ')} (written by an older or different deploy).`
        : `The outputs in ${file} are invalid: ${describeZodError(parsed.error)}.`,
      deployHint(stage),
      1,
      'STAGE_OUTPUTS',
    )
  }
  if (parsed.data.stage !== stage) {
    throw new OperatorError(
      `${file} holds the outputs of stage "${parsed.data.stage}", not "${stage}" (sst keeps only the last deployed stage there).`,
      deployHint(stage),
      1,
      'STAGE_OUTPUTS',
    )
  }
  return parsed.data
}
