/**
 * The local queue: SQS standard-queue semantics over PostgreSQL, split by concern —
 * administration (pg/admin.ts), queue operations (pg/ops.ts), DLQ redrive (pg/redrive.ts).
 * This module keeps the one import path the rest of the code uses.
 */
export * from './pg/admin.js'
export * from './pg/ops.js'
export * from './pg/redrive.js'
