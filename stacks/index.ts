/**
 * The whole stage. Import order follows the dependencies; each module creates its resources on
 * import. The outputs are published to SSM (`/dialctl/<stage>/outputs`), where dialctl finds the
 * stage with AWS credentials alone; `sst deploy` also writes them to `.sst/outputs.json` (an
 * override on the deploying machine). src/control/stage-outputs.ts validates exactly these keys.
 */
import { postgres, redis } from './data'
import { campaignStateMachine } from './dispatcher'
import { control, dialer, enrich, pacer } from './functions'
import { alarmPrefix, alertsTopic, dashboard } from './monitoring'
import { vpc } from './network'
import { pipe } from './pipe'
import { deadLetterQueue, dialTasks } from './queue'
import { metricNamespace } from './settings'
import { outputsParameterName } from '../src/control/stage-parameter'
import { uploads } from './uploads'
import { cluster, workerService, workerUrl } from './worker'

export const outputs = {
  /** `.sst/outputs.json` holds the last deployed stage only: this tells dialctl which one. */
  stage: $app.stage,
  pipeName: pipe.name,
  queueUrl: dialTasks.url,
  queueArn: dialTasks.arn,
  dlqUrl: deadLetterQueue.url,
  dlqArn: deadLetterQueue.arn,
  dialerFunctionName: dialer.name,
  enrichFunctionName: enrich.name,
  pacerFunctionName: pacer.name,
  controlFunctionName: control.name,
  uploadBucketName: uploads.bucket,
  stateMachineArn: campaignStateMachine.arn,
  redisHost: redis.host,
  redisPort: redis.port,
  postgresHost: postgres.host,
  postgresPort: postgres.port,
  postgresDatabase: postgres.database,
  workerUrl,
  workerClusterName: cluster.nodes.cluster.name,
  workerServiceName: workerService.nodes.service.name,
  metricNamespace: metricNamespace($app.stage),
  alarmPrefix,
  alertsTopicArn: alertsTopic.arn,
  dashboardName: dashboard.dashboardName,
  vpcId: vpc.id,
}

/** One parameter per stage: no secret in it (endpoints and names only), readable with ssm:GetParameter. */
export const outputsParameter = new aws.ssm.Parameter('StageOutputsParameter', {
  name: outputsParameterName($app.stage),
  type: 'String',
  tier: 'Standard',
  value: $jsonStringify(outputs),
  description: `dialctl stage ${$app.stage}: what dialctl needs to find the stage (stacks/index.ts outputs)`,
})
