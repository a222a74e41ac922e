export * from './port.js'
export * from './limits.js'
export * from './pg-queue.js'
export * from './sqs-queue.js'
