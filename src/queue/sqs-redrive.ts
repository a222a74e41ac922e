import {
  CancelMessageMoveTaskCommand,
  ListMessageMoveTasksCommand,
  StartMessageMoveTaskCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { QueueError } from './limits.js'
import type { MoveTask, MoveTaskStatus } from './pg/redrive.js'

/** DLQ redrive on AWS: SQS's message move tasks (the local stack's are in ./pg/redrive.ts). */

export interface StartDlqRedriveInput {
  /** the DLQ's ARN */
  sourceArn: string
  /** default: each message's original source queue */
  destinationArn?: string
  /** 1–500 messages a second; default: SQS's own rate */
  maxPerSecond?: number
}

/** StartMessageMoveTask: moves the DLQ's messages back; returns the task handle for progress / cancel. */
export async function startDlqRedrive(
  client: SQSClient,
  input: StartDlqRedriveInput,
): Promise<{ taskHandle: string }> {
  const rate = input.maxPerSecond
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > 500))
    throw new QueueError(
      'InvalidParameterValue',
      `redrive: maxPerSecond is ${rate}; it must be an integer from 1 to 500 (SQS's MaxNumberOfMessagesPerSecond range)`,
    )
  if (!input.sourceArn.startsWith('arn:'))
    throw new QueueError(
      'InvalidParameterValue',
      `redrive: sourceArn "${input.sourceArn}" is not an ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)`,
    )
  const out = await client.send(
    new StartMessageMoveTaskCommand({
      SourceArn: input.sourceArn,
      ...(input.destinationArn ? { DestinationArn: input.destinationArn } : {}),
      ...(rate !== undefined ? { MaxNumberOfMessagesPerSecond: rate } : {}),
    }),
  )
  return { taskHandle: out.TaskHandle ?? '' }
}

/** ListMessageMoveTasks: the most recent redrives of a DLQ (up to 10), newest first. */
export async function listDlqRedrives(
  client: SQSClient,
  input: { sourceArn: string; maxResults?: number },
): Promise<MoveTask[]> {
  const out = await client.send(
    new ListMessageMoveTasksCommand({ SourceArn: input.sourceArn, MaxResults: input.maxResults ?? 10 }),
  )
  return (out.Results ?? []).map((r) => ({
    // only the RUNNING task has a handle (AWS omits it for finished ones)
    taskHandle: r.TaskHandle ?? '',
    source: r.SourceArn ?? input.sourceArn,
    ...(r.DestinationArn ? { destination: r.DestinationArn } : {}),
    status: (r.Status ?? 'RUNNING') as MoveTaskStatus,
    ...(r.MaxNumberOfMessagesPerSecond ? { maxPerSecond: r.MaxNumberOfMessagesPerSecond } : {}),
    toMove: r.ApproximateNumberOfMessagesToMove ?? 0,
    moved: r.ApproximateNumberOfMessagesMoved ?? 0,
    ...(r.FailureReason ? { failureReason: r.FailureReason } : {}),
    startedAt: new Date(r.StartedTimestamp ?? 0),
  }))
}

/** CancelMessageMoveTask; returns how many had been moved. */
export async function cancelDlqRedrive(client: SQSClient, taskHandle: string): Promise<{ moved: number }> {
  const out = await client.send(new CancelMessageMoveTaskCommand({ TaskHandle: taskHandle }))
  return { moved: out.ApproximateNumberOfMessagesMoved ?? 0 }
}
