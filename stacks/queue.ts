import { MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_SECONDS } from './settings'

/** Tasks that failed MAX_RECEIVE_COUNT receives; `dialctl dlq redrive` moves them back. */
export const deadLetterQueue = new sst.aws.Queue('DialTasksDlq', {
  // Kept longer than the source queue so a weekend's failures are still there on Monday.
  transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } },
})

export const dialTasks = new sst.aws.Queue('DialTasks', {
  visibilityTimeout: `${VISIBILITY_TIMEOUT_SECONDS} seconds`,
  dlq: { queue: deadLetterQueue.arn, retry: MAX_RECEIVE_COUNT },
})
