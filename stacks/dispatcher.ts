import { dispatchDefinition } from './dispatch-definition'
import { dispatcher } from './functions'
import { DISPATCH_WAIT_SECONDS } from './settings'

/** One execution per running campaign, started by dialctl with `{ "campaignId": "…" }`. */

const stateMachineName = `${$app.name}-${$app.stage}-campaign-execution`
const identity = aws.getCallerIdentityOutput({})
const region = aws.getRegionOutput({})
/** Known before creation, so the role can allow the machine to restart itself (ContinueAsNew). */
const stateMachineArn = $interpolate`arn:aws:states:${region.region}:${identity.accountId}:stateMachine:${stateMachineName}`

export const dispatcherRole = new aws.iam.Role('CampaignExecutionRole', {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: 'states.amazonaws.com' }),
})

export const dispatcherRolePolicy = new aws.iam.RolePolicy('CampaignExecutionPolicy', {
  role: dispatcherRole.id,
  policy: $jsonStringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InvokeDispatcher',
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        // `:*` too: the lambda:invoke integration may call a qualified ARN.
        Resource: [dispatcher.arn, $interpolate`${dispatcher.arn}:*`],
      },
      {
        Sid: 'ContinueAsNew',
        Effect: 'Allow',
        Action: ['states:StartExecution'],
        Resource: [stateMachineArn],
      },
      {
        // X-Ray has no resource-level permissions.
        Sid: 'Tracing',
        Effect: 'Allow',
        Action: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
        ],
        Resource: ['*'],
      },
    ],
  }),
})

export const campaignStateMachine = new aws.sfn.StateMachine(
  'CampaignExecution',
  {
    name: stateMachineName,
    type: 'STANDARD',
    roleArn: dispatcherRole.arn,
    definition: dispatcher.arn.apply((dispatcherArn) =>
      JSON.stringify(dispatchDefinition({ dispatcherArn, waitSeconds: DISPATCH_WAIT_SECONDS })),
    ),
    tracingConfiguration: { enabled: true },
  },
  { dependsOn: [dispatcherRolePolicy] },
)
