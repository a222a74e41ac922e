import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { loadStageOutputs, outputsFilePath } from '../../src/control/stage-outputs.js'

/** What `sst deploy --stage prod` writes to .sst/outputs.json for this app (values shortened). */
export const PROD_OUTPUTS = {
  stage: 'prod',
  pipeName: 'dialctl-prod-dial-tasks',
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dialctl-prod-DialTasksQueue-abc',
  queueArn: 'arn:aws:sqs:eu-west-1:123456789012:dialctl-prod-DialTasksQueue-abc',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dialctl-prod-DialTasksDlqQueue-def',
  dlqArn: 'arn:aws:sqs:eu-west-1:123456789012:dialctl-prod-DialTasksDlqQueue-def',
  dialerFunctionName: 'dialctl-prod-DialerWorkerFunction-ghi',
  enrichFunctionName: 'dialctl-prod-EnrichDialTaskFunction-jkl',
  pacerFunctionName: 'dialctl-prod-PacerFunction-mno',
  stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:dialctl-prod-campaign-execution',
  redisHost: 'master.dialctl-prod-redis.abc.euw1.cache.amazonaws.com',
  redisPort: '6379',
  postgresHost: 'dialctl-prod-postgresproxy.proxy-abc.eu-west-1.rds.amazonaws.com',
  postgresPort: 5432,
  postgresDatabase: 'dialctl',
  workerUrl: 'http://Worker.prod.dialctl.sst:8080',
  workerClusterName: 'dialctl-prod-ClusterCluster-pqr',
  workerServiceName: 'Worker',
  metricNamespace: 'Dialctl/prod',
  alarmPrefix: 'dialctl-prod-',
}

describe('loadStageOutputs', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dialctl-outputs-'))
    mkdirSync(path.join(dir, '.sst'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const write = (value: unknown) =>
    writeFileSync(
      path.join(dir, '.sst', 'outputs.json'),
      typeof value === 'string' ? value : JSON.stringify(value),
    )
  const failure = async (promise: Promise<unknown>): Promise<OperatorError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(OperatorError)
    return error as OperatorError
  }

  it('reads .sst/outputs.json of the project and coerces ports', async () => {
    write(PROD_OUTPUTS)
    const outputs = await loadStageOutputs('prod', { projectDir: dir, env: {} })
    expect(outputs.pipeName).toBe('dialctl-prod-dial-tasks')
    expect(outputs.redisPort).toBe(6379)
    expect(outputs.postgresPort).toBe(5432)
  })

  it('DIALCTL_OUTPUTS_FILE wins over the project file', async () => {
    const other = path.join(dir, 'prod-outputs.json')
    writeFileSync(other, JSON.stringify({ ...PROD_OUTPUTS, pipeName: 'from-env-file' }))
    write({ ...PROD_OUTPUTS, pipeName: 'from-project' })
    const env = { DIALCTL_OUTPUTS_FILE: other }
    expect(outputsFilePath({ projectDir: dir, env })).toBe(other)
    expect((await loadStageOutputs('prod', { projectDir: dir, env })).pipeName).toBe('from-env-file')
  })

  it('no file: names the path and the deploy command', async () => {
    rmSync(path.join(dir, '.sst'), { recursive: true })
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toContain(path.join(dir, '.sst', 'outputs.json'))
    expect(e.message).toContain('does not exist')
    expect(e.suggestion).toContain('npx sst deploy --stage prod')
    expect(e.code).toBe('STAGE_OUTPUTS')
  })

  it('a missing output is named', async () => {
    const { pipeName: _p, dlqArn: _d, ...rest } = PROD_OUTPUTS
    write(rest)
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toMatch(/lack pipeName, dlqArn/)
    expect(e.suggestion).toContain('sst deploy --stage prod')
  })

  it('a malformed output is named with the problem', async () => {
    write({ ...PROD_OUTPUTS, queueArn: 'dial-tasks' })
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toMatch(/queueArn: /)
  })

  it('outputs of another stage are refused, not silently used', async () => {
    write({ ...PROD_OUTPUTS, stage: 'staging' })
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toContain('holds the outputs of stage "staging", not "prod"')
    expect(e.suggestion).toContain('--stage prod')
  })

  it('broken JSON says so', async () => {
    write('{"stage": "prod",')
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toMatch(/is not valid JSON/)
  })
})
