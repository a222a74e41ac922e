import { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { PipesClient } from '@aws-sdk/client-pipes'
import { SQSClient } from '@aws-sdk/client-sqs'
import { SSMClient } from '@aws-sdk/client-ssm'
import { STSClient } from '@aws-sdk/client-sts'

export interface AwsClients {
  pipes: PipesClient
  sqs: SQSClient
  lambda: LambdaClient
  cloudwatch: CloudWatchClient
  ssm: SSMClient
  sts: STSClient
}

export interface AwsClientOptions {
  profile?: string
  region?: string
}

/**
 * SDK v3 clients with the standard credential chain. `profile`/`region` come from the flags;
 * AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_SQS, …) are read by the SDK itself. The SDK builds no
 * connection until the first call, so unused clients cost nothing.
 */
export function createAwsClients(options: AwsClientOptions): AwsClients {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  }
  return {
    pipes: new PipesClient(config),
    sqs: new SQSClient(config),
    lambda: new LambdaClient(config),
    cloudwatch: new CloudWatchClient(config),
    ssm: new SSMClient(config),
    sts: new STSClient(config),
  }
}

export function destroyAwsClients(clients: Partial<AwsClients>): void {
  for (const c of Object.values(clients)) c?.destroy()
}
