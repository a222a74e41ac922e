/**
 * The campaign execution state machine (Amazon States Language), as a pure function so the
 * loop's logic is tested without AWS: dispatch → wait → dispatch … until the campaign is no
 * longer active or has no eligible contacts left.
 *
 * Contract with functions/dispatcher.handler (input and output of one round):
 *   in:  { campaignId: string }
 *   out: { campaignStatus: string, eligibleRemaining: number, waitSeconds: number, ... }
 *        eligibleRemaining = contacts that still need a dial, now or later (0 ends the run);
 *        waitSeconds = when the next round is worth it (e.g. the calling window opens). Below 1
 *        the machine waits its fixed `waitSeconds` instead, so it can never spin.
 * A dispatcher result without those two fields fails the execution (visible, alarmed) rather
 * than looping blindly.
 *
 * A Standard workflow's history is capped at 25,000 events; a multi-day campaign would hit it.
 * After MAX_ROUNDS rounds the execution starts a fresh one for the same campaign and ends.
 */
export const MAX_ROUNDS = 1000

export interface DispatchDefinitionOptions {
  dispatcherArn: string
  waitSeconds: number
  maxRounds?: number
}

export function dispatchDefinition(options: DispatchDefinitionOptions): Record<string, unknown> {
  const maxRounds = options.maxRounds ?? MAX_ROUNDS
  return {
    Comment: 'dialctl campaign execution: dispatch eligible contacts, wait, repeat',
    StartAt: 'Init',
    States: {
      Init: {
        Type: 'Pass',
        Parameters: { 'campaignId.$': '$.campaignId', round: 0 },
        Next: 'Dispatch',
      },
      Dispatch: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: options.dispatcherArn, Payload: { 'campaignId.$': '$.campaignId' } },
        ResultSelector: {
          'campaignStatus.$': '$.Payload.campaignStatus',
          'eligibleRemaining.$': '$.Payload.eligibleRemaining',
          'waitSeconds.$': '$.Payload.waitSeconds',
        },
        ResultPath: '$.dispatch',
        Retry: [
          {
            ErrorEquals: [
              'Lambda.ServiceException',
              'Lambda.AWSLambdaException',
              'Lambda.SdkClientException',
              'Lambda.TooManyRequestsException',
            ],
            IntervalSeconds: 2,
            MaxAttempts: 6,
            BackoffRate: 2,
          },
        ],
        Next: 'ContinueOrStop',
      },
      ContinueOrStop: {
        Type: 'Choice',
        Choices: [
          {
            Not: { Variable: '$.dispatch.campaignStatus', StringEquals: 'active' },
            Next: 'CampaignNotActive',
          },
          { Variable: '$.dispatch.eligibleRemaining', NumericLessThanEquals: 0, Next: 'NoEligibleContacts' },
          { Variable: '$.round', NumericGreaterThanEquals: maxRounds, Next: 'ContinueAsNew' },
          { Variable: '$.dispatch.waitSeconds', NumericGreaterThanEquals: 1, Next: 'WaitAsAsked' },
        ],
        Default: 'Wait',
      },
      WaitAsAsked: { Type: 'Wait', SecondsPath: '$.dispatch.waitSeconds', Next: 'NextRound' },
      Wait: { Type: 'Wait', Seconds: options.waitSeconds, Next: 'NextRound' },
      NextRound: {
        Type: 'Pass',
        Parameters: { 'campaignId.$': '$.campaignId', 'round.$': 'States.MathAdd($.round, 1)' },
        Next: 'Dispatch',
      },
      ContinueAsNew: {
        Type: 'Task',
        Resource: 'arn:aws:states:::states:startExecution',
        Parameters: {
          'StateMachineArn.$': '$$.StateMachine.Id',
          Input: {
            'campaignId.$': '$.campaignId',
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        End: true,
      },
      CampaignNotActive: { Type: 'Succeed' },
      NoEligibleContacts: { Type: 'Succeed' },
    },
  }
}
