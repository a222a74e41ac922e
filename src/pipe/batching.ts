/**
 * The dial-tasks pipe's batching, as the seed gives it ("Batch: 10 messages, 5 second window"):
 * the AWS pipe's `BatchSize` / `MaximumBatchingWindowInSeconds` (stacks/settings.ts) and the local
 * pipe's defaults. A leaf module (no imports) so the stacks can read it without the core.
 */
export const PIPE_BATCH_SIZE = 10
export const PIPE_BATCH_WINDOW_SECONDS = 5
