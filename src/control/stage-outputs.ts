import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { DescribeParametersCommand, GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { z } from 'zod'
import { errorMessage, OperatorError } from '../errors.js'
import { describeZodError } from '../contracts/errors.js'
import { OUTPUTS_PARAMETER_PREFIX, outputsParameterName } from './stage-parameter.js'

export { outputsParameterName } from './stage-parameter.js'

/**
 * What a deployed stage exports (stacks/index.ts `outputs`). The stack publishes it to SSM
 * (`/dialctl/<stage>/outputs`, stacks/index.ts), where dialctl reads it with AWS credentials alone;
 * `sst deploy` also writes it to `.sst/outputs.json`, which stays an override on the machine that
 * deployed.
 */
export const StageOutputs = z.object({
  stage: z.string().min(1),
  pipeName: z.string().min(1),
  queueUrl: z.string().url(),
  queueArn: z.string().startsWith('arn:'),
  dlqUrl: z.string().url(),
  dlqArn: z.string().startsWith('arn:'),
  dialerFunctionName: z.string().min(1),
  /** the control API in the VPC (functions/control.ts); absent in deploys older than it */
  controlFunctionName: z.string().min(1).optional(),
  /** the bucket large contacts files are uploaded to (stacks/uploads.ts); absent in older deploys */
  uploadBucketName: z.string().min(1).optional(),
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
  /** read the stage from SSM when no outputs file applies */
  ssm?: SSMClient
  /** for messages: where SSM was asked */
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

const fileHint = (stage: string) =>
  `Point DIALCTL_OUTPUTS_FILE at the outputs.json of stage ${stage}, or unset it (and run outside the deploy checkout) to read the stage from SSM (${outputsParameterName(stage)}) with your AWS credentials.`

/**
 * The outputs of `stage`: DIALCTL_OUTPUTS_FILE if set; else `.sst/outputs.json` when it holds
 * this stage; else the stage's SSM parameter. Every failure is an OperatorError that names the
 * source, the missing or wrong output, and the fix — never a deploy (a typo in --stage must not
 * lead anyone to create a stage).
 */
export async function loadStageOutputs(stage: string, options: LoadOptions = {}): Promise<StageOutputs> {
  const env = options.env ?? process.env
  const file = outputsFilePath(options)
  if (!env.DIALCTL_OUTPUTS_FILE && options.ssm) {
    const local = existsSync(file) ? await readOutputsFile(stage, file).catch(() => undefined) : undefined
    return local ?? readOutputsParameter(stage, options.ssm, options.region)
  }
  return readOutputsFile(stage, file)
}

async function readOutputsFile(stage: string, file: string): Promise<StageOutputs> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new OperatorError(
      `No outputs for stage "${stage}": ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`,
      fileHint(stage),
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
      fileHint(stage),
      1,
      'STAGE_OUTPUTS',
    )
  }
  return checkOutputs(stage, json, file, fileHint(stage))
}

function checkOutputs(stage: string, json: unknown, source: string, hint: string): StageOutputs {
  const parsed = StageOutputs.safeParse(json)
  if (!parsed.success) {
    const missing = parsed.error.issues
      .filter((i) => i.code === 'invalid_type' && /received undefined/.test(i.message))
      .map((i) => i.path.join('.'))
    throw new OperatorError(
      missing.length
        ? `The outputs in ${source} lack ${missing.join(', ')} (written by an older or different deploy).`
        : `The outputs in ${source} are invalid: ${describeZodError(parsed.error)}.`,
      hint,
      1,
      'STAGE_OUTPUTS',
    )
  }
  if (parsed.data.stage !== stage) {
    throw new OperatorError(
      `${source} holds the outputs of stage "${parsed.data.stage}", not "${stage}" (sst keeps only the last deployed stage there).`,
      `That file is for --stage ${parsed.data.stage}. For --stage ${stage}: ${hint}`,
      1,
      'STAGE_OUTPUTS',
    )
  }
  return parsed.data
}

/** Stage names that published outputs in this account and region (DescribeParameters, all pages). */
export async function listStages(ssm: SSMClient): Promise<string[]> {
  const stages = new Set<string>()
  let NextToken: string | undefined
  do {
    const out = await ssm.send(
      new DescribeParametersCommand({
        ParameterFilters: [{ Key: 'Name', Option: 'BeginsWith', Values: [OUTPUTS_PARAMETER_PREFIX] }],
        MaxResults: 50,
        ...(NextToken ? { NextToken } : {}),
      }),
    )
    for (const p of out.Parameters ?? []) {
      const m = /^\/dialctl\/([^/]+)\/outputs$/.exec(p.Name ?? '')
      if (m?.[1]) stages.add(m[1])
    }
    NextToken = out.NextToken
  } while (NextToken)
  return [...stages].sort()
}

async function readOutputsParameter(stage: string, ssm: SSMClient, region?: string): Promise<StageOutputs> {
  const Name = outputsParameterName(stage)
  let value: string | undefined
  try {
    value = (await ssm.send(new GetParameterCommand({ Name }))).Parameter?.Value
  } catch (error) {
    if ((error as { name?: string }).name !== 'ParameterNotFound') throw error
    const stages = await listStages(ssm)
    const where = region ? ` in ${region}` : ''
    throw new OperatorError(
      `No stage "${stage}"${where}: SSM has no ${Name}.`,
      stages.length
        ? `Stages deployed here: ${stages.join(', ')}. Check --stage; if the stage is in another account or region, pass --profile or --region.`
        : 'No dialctl stage is deployed in this account and region: check --profile and --region (or AWS_PROFILE / AWS_REGION).',
      1,
      'STAGE_UNKNOWN',
    )
  }
  let json: unknown
  try {
    json = JSON.parse(value ?? '')
  } catch {
    json = undefined
  }
  return checkOutputs(
    stage,
    json,
    `SSM ${Name}`,
    `The stage's published outputs are unreadable; whoever deploys ${stage} should redeploy it.`,
  )
}
