/**
 * The whole stage. Import order follows the dependencies; each module creates its resources on
 * import. The returned outputs land in `.sst/outputs.json`, where dialctl finds the stage
 * (src/control/stage-outputs.ts validates exactly these keys).
 */
import { postgres, redis } from './data'
import { campaignStateMachine } from './dispatcher'
import { dialer, enrich, pacer } from './functions'
import { alarmPrefix, alertsTopic, dashboard } from './monitoring'
import { vpc } from './network'
import { pipe } from './pipe'
import { deadLetterQueue, dialTasks } from './queue'
import { metricNamespace } from './settings'
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
