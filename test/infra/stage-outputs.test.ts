import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DescribeParametersCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { listStages, loadStageOutputs, outputsFilePath } from '../../src/control/stage-outputs.js'

import { PROD_OUTPUTS } from '../helpers/stage-outputs.js'

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

  it('no file (and no SSM client): names the path and the variable, never a deploy', async () => {
    rmSync(path.join(dir, '.sst'), { recursive: true })
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toContain(path.join(dir, '.sst', 'outputs.json'))
    expect(e.message).toContain('does not exist')
    // Changed by issue #13: a deploy is never the advice for a file that is not there.
    expect(e.suggestion).toContain('DIALCTL_OUTPUTS_FILE')
    expect(e.suggestion).not.toMatch(/sst deploy/)
    expect(e.code).toBe('STAGE_OUTPUTS')
  })

  it('a missing output is named', async () => {
    const { pipeName: _p, dlqArn: _d, ...rest } = PROD_OUTPUTS
    write(rest)
    const e = await failure(loadStageOutputs('prod', { projectDir: dir, env: {} }))
    expect(e.message).toMatch(/lack pipeName, dlqArn/)
    // Changed by issue #13: points at the override and SSM, not at a deploy.
    expect(e.suggestion).toContain('/dialctl/prod/outputs')
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

describe('stage discovery from SSM (no outputs file needed)', () => {
  const ssm = mockClient(SSMClient)
  const client = new SSMClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  })
  let dir: string
  beforeEach(() => {
    ssm.reset()
    dir = mkdtempSync(path.join(tmpdir(), 'dialctl-ssm-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('reads /dialctl/<stage>/outputs when the project has no outputs file', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(PROD_OUTPUTS) } })
    const outputs = await loadStageOutputs('prod', { projectDir: dir, env: {}, ssm: client })
    expect(outputs.pipeName).toBe('dialctl-prod-dial-tasks')
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: '/dialctl/prod/outputs' },
    ])
  })

  it('a project outputs file of the same stage wins (no AWS call)', async () => {
    mkdirSync(path.join(dir, '.sst'))
    writeFileSync(
      path.join(dir, '.sst', 'outputs.json'),
      JSON.stringify({ ...PROD_OUTPUTS, pipeName: 'from-file' }),
    )
    const outputs = await loadStageOutputs('prod', { projectDir: dir, env: {}, ssm: client })
    expect(outputs.pipeName).toBe('from-file')
    expect(ssm.calls()).toEqual([])
  })

  it('a project file of another stage is not used: SSM is asked for the stage named', async () => {
    mkdirSync(path.join(dir, '.sst'))
    writeFileSync(
      path.join(dir, '.sst', 'outputs.json'),
      JSON.stringify({ ...PROD_OUTPUTS, stage: 'staging' }),
    )
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(PROD_OUTPUTS) } })
    expect((await loadStageOutputs('prod', { projectDir: dir, env: {}, ssm: client })).stage).toBe('prod')
  })

  it('an unknown stage (a typo) lists the stages that exist, and suggests no deploy', async () => {
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }))
    ssm
      .on(DescribeParametersCommand)
      .resolvesOnce({ Parameters: [{ Name: '/dialctl/prod/outputs' }], NextToken: 't2' })
      .resolves({ Parameters: [{ Name: '/dialctl/local-dev/outputs' }, { Name: '/dialctl/prod/other' }] })
    const e = await loadStageOutputs('porod', {
      projectDir: dir,
      env: {},
      ssm: client,
      region: 'eu-west-1',
    }).then(
      () => undefined,
      (x: unknown) => x as OperatorError,
    )
    expect(e).toBeInstanceOf(OperatorError)
    expect(e!.message).toBe('No stage "porod" in eu-west-1: SSM has no /dialctl/porod/outputs.')
    expect(e!.suggestion).toContain('Stages deployed here: local-dev, prod.')
    expect(e!.suggestion).toContain('--region')
    expect(e!.suggestion).not.toMatch(/deploy --stage|sst deploy/)
    expect(ssm.commandCalls(DescribeParametersCommand).map((c) => c.args[0].input)).toEqual([
      { ParameterFilters: [{ Key: 'Name', Option: 'BeginsWith', Values: ['/dialctl/'] }], MaxResults: 50 },
      {
        ParameterFilters: [{ Key: 'Name', Option: 'BeginsWith', Values: ['/dialctl/'] }],
        MaxResults: 50,
        NextToken: 't2',
      },
    ])
  })

  it('no stage at all in the account/region says to check --profile and --region', async () => {
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }))
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [] })
    expect(await listStages(client)).toEqual([])
    const e = await loadStageOutputs('prod', { projectDir: dir, env: {}, ssm: client }).catch(
      (x: unknown) => x as OperatorError,
    )
    expect((e as OperatorError).suggestion).toMatch(/--profile and --region/)
  })
})
